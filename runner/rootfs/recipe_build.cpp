#include "rootfs/recipe_build.h"

#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "rootfs/image_import.h"
#include "rootfs/manifest.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::string> strings_of(const json& document, const char* key, const fs::path& file) {
  if (!document.contains(key)) return {};
  std::vector<std::string> out;
  for (const auto& value : document[key]) {
    if (!value.is_string()) throw Error(file.string() + ": /" + key + ": expected an array of strings", exit_code::runner_failed);
    auto path = normalize_image_path(value.get<std::string>());
    if (!path) throw Error(file.string() + ": /" + key + ": " + value.dump() + " is not a relative path inside the image", exit_code::runner_failed);
    out.push_back(*path);
  }
  return out;
}

// Runs argv (no shell), in directory; throws naming the command when it fails.
void run_program(const std::vector<std::string>& argv, const fs::path& directory) {
  const pid_t pid = ::fork();
  if (pid < 0) throw_sys_error("fork()");
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    if (::chdir(directory.c_str()) == 0) ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_sys_error("waitpid()");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " failed (status " + std::to_string(status) +
                    ") in " + directory.string(),
                exit_code::runner_failed);
}

// The static busybox: the host's if it is the static build, else Debian's
// package unpacked into work (never installed).
fs::path static_busybox(const fs::path& work) {
  for (const char* candidate : {"/bin/busybox", "/usr/bin/busybox"})
    if (fs::exists(candidate) && is_static_executable(candidate)) return candidate;
  fs::create_directories(work / "deb");
  run_program({"apt-get", "download", "busybox-static"}, work / "deb");
  for (const auto& entry : fs::directory_iterator(work / "deb"))
    if (entry.path().extension() == ".deb") run_program({"dpkg", "-x", entry.path().string(), "unpacked"}, work / "deb");
  const auto unpacked = work / "deb" / "unpacked" / "bin" / "busybox";
  if (!fs::exists(unpacked) || !is_static_executable(unpacked))
    throw Error("busybox-static: no static busybox in the downloaded package (fix: apt-get install busybox-static)", exit_code::runner_failed);
  return unpacked;
}

void build_busybox(const Recipe& recipe, const fs::path& work, const fs::path& tree) {
  const auto busybox = static_busybox(work);
  fs::create_directories(tree / "bin");
  fs::copy_file(busybox, tree / "bin" / "busybox");
  fs::permissions(tree / "bin" / "busybox", fs::perms(0755));
  for (const auto& applet : recipe.applets) fs::create_symlink("busybox", tree / "bin" / applet);
  for (const auto& directory : recipe.directories) fs::create_directories(tree / directory);
  for (const auto& [path, target] : recipe.symlinks) {
    fs::create_directories((tree / path).parent_path());
    fs::create_symlink(target, tree / path);
  }
}

}  // namespace

Recipe load_recipe(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": no such recipe (recipes are RECIPES/NAME.json, shipped: minimal)", exit_code::runner_failed);
  const auto document = policy::read_json_file(file.string());
  Recipe recipe;
  recipe.name = file.stem().string();
  recipe.builder = document.value("builder", "");
  if (recipe.builder != "busybox-static")
    throw Error(file.string() + ": /builder: expected \"busybox-static\", got " + json(recipe.builder).dump(), exit_code::runner_failed);
  for (const auto& applet : strings_of(document, "applets", file)) {
    if (applet.find('/') != std::string::npos) throw Error(file.string() + ": /applets: " + quote(applet) + " is not an applet name", exit_code::runner_failed);
    recipe.applets.push_back(applet);
  }
  recipe.directories = strings_of(document, "directories", file);
  if (document.contains("symlinks"))
    for (const auto& [path, target] : document["symlinks"].items()) {
      if (!normalize_image_path(path) || !target.is_string())
        throw Error(file.string() + ": /symlinks/" + path + ": expected \"relative/path\": \"target\"", exit_code::runner_failed);
      recipe.symlinks.emplace_back(*normalize_image_path(path), target.get<std::string>());
    }
  return recipe;
}

bool is_static_executable(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return false;
  if (std::string_view(reinterpret_cast<const char*>(header.e_ident), 4) != ELFMAG || header.e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + i * header.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&program), sizeof program)) return false;
    if (program.p_type == PT_INTERP) return false;
  }
  return true;
}

ImageName build_image(const Store& store, const std::string& name, const fs::path& recipe_dir) {
  (void)store.name_file(name);  // throws for an invalid name, before any work
  const auto recipe = load_recipe(recipe_dir / (name + ".json"));
  ensure_store(store);
  StagingDir staging(store);
  build_busybox(recipe, staging.path(), staging.tree());
  return commit_image(store, name, staging, "recipe " + (recipe_dir / (name + ".json")).string(), {});
}

}  // namespace tierbox::rootfs
