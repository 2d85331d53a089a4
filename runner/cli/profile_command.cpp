#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "policy/profile_loader.h"

namespace tierbox::cli {
namespace {

struct ProfileCheckOptions {
  std::vector<std::string> files;
};

int check(const ProfileCheckOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  const auto dirs_text = search_dirs(common);
  const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
  int invalid = 0;
  for (const auto& file : options.files) {
    try {
      const auto profile = policy::load_profile_file(file, dirs);
      std::printf("%s: ok (tier %s, %zu mounts, network %s, sha256 %s)\n", file.c_str(), profile.name.c_str(),
                  profile.mounts.size(), policy::to_string(profile.network.mode), profile.sha256.substr(0, 12).c_str());
      for (const auto& warning : policy::network_warnings(profile.network))
        std::fprintf(stderr, "tierbox: warning: %s: %s\n", file.c_str(), warning.c_str());
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
