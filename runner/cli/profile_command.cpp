#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "policy/profile_loader.h"
#include "policy/seccomp_groups.h"

namespace tierbox::cli {
namespace {

struct ProfileCheckOptions {
  std::vector<std::string> files;
};

// What a reviewer must not miss: a tier that lifts a protection every other
// tier has. One line each, on stdout with the result.
void print_warnings(const std::string& file, const policy::Profile& profile) {
  for (const auto& id : profile.seccomp.allow_dangerous) {
    const auto* item = policy::find_blocked_item(id);
    std::printf("%s: WARNING: seccomp.allow_dangerous opts in to the always-blocked item '%s': %s\n", file.c_str(),
                id.c_str(), item ? std::string(item->description).c_str() : "?");
  }
}

int check(const ProfileCheckOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto dirs_text = search_dirs(common);
  const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
  int invalid = 0;
  for (const auto& file : options.files) {
    try {
      const auto profile = policy::load_profile_file(file, dirs);
      std::printf("%s: ok (tier %s, %zu mounts, sha256 %s)\n", file.c_str(), profile.name.c_str(),
                  profile.mounts.size(), profile.sha256.substr(0, 12).c_str());
      print_warnings(file, profile);
    } catch (const Error& error) {
      std::fprintf(stderr, "tierbox: %s\n", error.what());
      ++invalid;
    }
  }
  return invalid == 0 ? 0 : 1;
}

}  // namespace

std::function<int()> add_profile_command(CLI::App& app, CommonOptions& common) {
  auto* profile_app = app.add_subcommand("profile", "Check and review tier profiles");
  profile_app->require_subcommand(1);
  auto options = std::make_shared<ProfileCheckOptions>();
  auto* check_app = profile_app->add_subcommand("check", "Validate profile files without running anything (exit 1 if any is invalid)");
  check_app->add_option("files", options->files, "Profile files")->required();
  check_app->add_option("--config-dir", common.config_dir, "Where `extends` bases are looked up first");
  return [options, &common, check_app] {
    if (check_app->parsed()) return check(*options, common);
    return static_cast<int>(exit_code::runner_failed);
  };
}

}  // namespace tierbox::cli
