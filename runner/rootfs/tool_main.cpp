// tierbox-rootfs: the image store's commands (`tierbox rootfs ...` executes
// this program). A program of its own because it links libarchive, whose
// Debian build has no static archives of all its dependencies (libacl,
// libzstd, liblz4), while tierbox itself is a static PIE for launch speed.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/errors.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "rootfs/image_import.h"
#include "rootfs/recipe_build.h"
#include "rootfs/store.h"

namespace {

namespace fs = std::filesystem;
using namespace tierbox;
using namespace tierbox::rootfs;

Store store_of(const std::string& config_dir) {
  std::optional<fs::path> flag;
  if (!config_dir.empty()) flag = config_dir;
  const auto dirs = policy::config_search_dirs(flag, std::getenv("TIERBOX_CONFIG_DIR"), "/etc/tierbox", TIERBOX_SHIPPED_PROFILES);
  return Store(policy::load_runner_config(dirs).rootfs_dir);
}

void require_root(const char* what) {
  if (::geteuid() != 0)
    throw Error(std::string("rootfs ") + what + ": the image store is root's; run it as root", exit_code::runner_failed);
}

void print_image(const ImageName& image, const char* verb) {
  std::printf("%s %s %s\n", verb, image.name.c_str(), image.digest.c_str());
  for (const auto& stripped : image.stripped) std::printf("  stripped %s\n", stripped.c_str());
}

int verify(const Store& store, const std::string& name) {
  auto image = store.find(name);
  if (!image) throw Error("image " + quote(name) + ": not in the store " + store.root().string() + " (see: tierbox rootfs list)", exit_code::runner_failed);
  const auto result = verify_image(store, *image);
  if (result.manifest_digest != result.digest)
    std::printf("manifest changed: %s is now %s\n", result.digest.c_str(), result.manifest_digest.c_str());
  for (const auto& difference : result.differences)
    std::printf("%s /%s%s\n", to_string(difference.kind), difference.path.c_str(),
                difference.detail.empty() ? "" : (" (" + difference.detail + ")").c_str());
  std::printf("%s %s: %s\n", name.c_str(), image->digest.c_str(),
              result.intact() ? "intact" : (std::to_string(result.differences.size()) + " differences").c_str());
  return result.intact() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tierbox rootfs: root filesystem images for tiers with \"rootfs\": \"image:NAME\" (docs/rootfs.md)", "tierbox rootfs"};
  app.require_subcommand(1);
  std::string config_dir, name, file, recipes = TIERBOX_SHIPPED_ROOTFS;
  app.add_option("--config-dir", config_dir, "Directory searched first for tierbox.json (rootfs_dir: where the store is)");
  auto* import = app.add_subcommand("import", "Import a root filesystem tarball or an OCI image archive as NAME");
  import->add_option("NAME", name)->required();
  import->add_option("FILE", file)->required()->check(CLI::ExistingFile);
  auto* build = app.add_subcommand("build", "Build NAME from its recipe, RECIPES/NAME.json");
  build->add_option("NAME", name)->required();
  build->add_option("--recipes", recipes, "Directory of recipes (default: the shipped rootfs/)");
  app.add_subcommand("list", "List the images: name, digest, source");
  auto* verify_command = app.add_subcommand("verify", "Compare an image with its manifest; name every file that differs");
  verify_command->add_option("NAME", name)->required();
  auto* remove = app.add_subcommand("remove", "Remove NAME (and the image, once no name refers to it)");
  remove->add_option("NAME", name)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : exit_code::runner_failed;  // 125, as every tierbox usage error
  }
  try {
    const auto store = store_of(config_dir);
    if (import->parsed()) {
      require_root("import");
      print_image(import_archive(store, name, file), "imported");
    } else if (build->parsed()) {
      require_root("build");
      print_image(build_image(store, name, recipes), "built");
    } else if (app.got_subcommand("list")) {
      for (const auto& image : store.list())
        std::printf("%-20s %s  %s\n", image.name.c_str(), image.digest.c_str(), image.source.c_str());
    } else if (verify_command->parsed()) {
      return verify(store, name);
    } else if (remove->parsed()) {
      require_root("remove");
      remove_image(store, name);
      std::printf("removed %s\n", name.c_str());
    }
    return 0;
  } catch (const Error& error) {
    std::fprintf(stderr, "tierbox rootfs: %s\n", error.what());
    return error.exit_status();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tierbox rootfs: %s\n", error.what());
    return exit_code::runner_failed;
  }
}
