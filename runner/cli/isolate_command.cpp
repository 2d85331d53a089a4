#include <cstdio>

#include "cli/commands.h"
#include "common/logging.h"
#include "control/isolation.h"
#include "launch/run_registry.h"
#include "policy/runner_config.h"

namespace tierbox::cli {

// Internal for now: the incident-response commands (ps/stop/freeze/isolate)
// will call launch::isolate_run_network themselves. Hidden from --help.
std::function<int()> add_isolate_network_command(CLI::App& app, CommonOptions& common) {
  auto run_id = std::make_shared<std::string>();
  auto* command = app.add_subcommand("isolate-network", "Cut a running sandbox's network at once (internal)");
  command->group("");
  command->add_option("run_id", *run_id, "The run's id (run -v shows it)")->required();
  command->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  return [run_id, &common] {
    logging::configure(common.verbose);
    const auto dirs_text = search_dirs(common);
    const std::vector<std::filesystem::path> dirs(dirs_text.begin(), dirs_text.end());
    const auto config = policy::load_runner_config(dirs);
    std::printf("%s\n", launch::isolate_run_network(launch::RunRegistry(config.state_dir), *run_id).c_str());
    return 0;
  };
}

}  // namespace tierbox::cli
