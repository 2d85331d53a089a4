// `tierbox daemon`: the root-owned launch service (docs/daemon.md).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/logging.h"
#include "daemon/caller_view.h"
#include "daemon/server.h"
#include "daemon/session.h"
#include "policy/profile_loader.h"
#include "policy/runner_config.h"
#include "service/policy_cache.h"
#include "service/pooled_launcher.h"
#include "audit/audit_log.h"

namespace tierbox::cli {
namespace {

struct DaemonOptions {
  std::string socket = "/run/tierbox/tierbox.sock";
  std::string socket_group = "tierbox";
  std::string socket_mode = "0660";
  std::string state_dir;
  std::string audit_log;
  int pool_size = -1;  // >= 0: overrides tierbox.json warm_pool
  unsigned request_timeout_seconds = 10;
  daemon::LimitSettings limits;
  daemon::RefusalBudgetSettings refusal_budget;
  unsigned refusal_window_seconds = 60;
};

int run_daemon(const DaemonOptions& options, const CommonOptions& common) {
  logging::configure(common.verbose);
  if (::geteuid() != 0)
    throw Error("tierbox daemon runs as root (it launches sandboxes for other users; fix: sudo tierbox daemon, or "
                "systemctl start tierbox.socket)",
                exit_code::runner_failed);
  char* end = nullptr;
  const unsigned long mode = std::strtoul(options.socket_mode.c_str(), &end, 8);
  if (*end != '\0' || mode > 0777 || (mode & 0111))
    throw Error("--socket-mode " + options.socket_mode + ": expected an octal mode such as 0660", exit_code::runner_failed);
  daemon::DaemonContext context;
  const auto dirs = search_dirs(common);
  context.run_settings.config_dirs.assign(dirs.begin(), dirs.end());
  context.run_settings.audit_log = options.audit_log;
  context.run_settings.state_dir = options.state_dir;
  // The daemon's own records (protocol errors, refusals) go to the same
  // log as the runs'; a log that cannot be written stops the daemon here.
  const auto config = policy::load_runner_config(context.run_settings.config_dirs);
  context.audit_log = audit::audit_log_path(options.audit_log, config.audit_log);
  context.audit_syslog = config.audit_syslog;
  audit::AuditLog(context.audit_log, context.audit_syslog).create_if_missing();
  context.request_timeout = std::chrono::seconds(options.request_timeout_seconds);
  daemon::Limits limits(options.limits);
  context.limits = &limits;
  auto budget = options.refusal_budget;
  budget.window = std::chrono::seconds(options.refusal_window_seconds);
  daemon::RefusalRecords refusals(context.audit_log, context.audit_syslog, budget);
  context.refusals = &refusals;
  // The launcher every run goes through: one warm pool for the daemon's
  // life, made from the runner config each request loads (a request whose
  // config differs in what a sandbox is made with launches cold). Its refill
  // thread blocks every signal, so a prepared child inherits none, and the
  // daemon's SIGTERM is read by serve() alone.
  auto pool_config = config;
  if (!options.state_dir.empty()) pool_config.state_dir = options.state_dir;
  if (options.pool_size >= 0) {
    pool_config.warm_pool_size = static_cast<unsigned>(options.pool_size);
    pool_config.warm_pool_tiers.clear();  // --pool-size is every tier's size; 0 disables the pool
  }
  // The refill thread starts with every signal blocked (it blocks them all
  // itself as well): none of the daemon's signals is ever taken by it.
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous);
  service::PooledLauncher launcher(pool_config);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  context.launcher = &launcher;
  // The tiers, inventory and matrix each request loads, reused while their
  // files are the same on disk (service/policy_cache.h): an edited tier
  // takes effect on the next request.
  service::PolicyCache policy_cache;
  context.run_settings.policy_cache = &policy_cache;
  context.on_run_end = [&launcher, &policy_cache] {
    const auto counts = launcher.counts();
    const auto cached = policy_cache.counts();
    logging::step("warm pool: {} warm and {} cold launches, {} prepared, {} dropped, {} ready; policy files: {} loads, {} reused",
                  counts.warm, counts.cold, counts.prepared, counts.dropped, counts.ready, cached.loads, cached.hits);
  };
  if (pool_config.warm_pool_size == 0 && pool_config.warm_pool_tiers.empty())
    std::fprintf(stderr, "tierbox daemon: warm pool off (every launch is cold)\n");
  else
    std::fprintf(stderr, "tierbox daemon: warm pool of %u prepared sandboxes per tier, after its first launch\n",
                 pool_config.warm_pool_size);
  // Callers' control commands find the runs through their own tierbox.json
  // (daemon/caller_view.h): say so when the daemon puts them elsewhere.
  try {
    const auto callers_config = policy::load_runner_config(policy::config_search_dirs(
        std::nullopt, nullptr, "/etc/tierbox", TIERBOX_SHIPPED_PROFILES));
    for (const auto& line : daemon::caller_view_mismatches(config, options.state_dir, callers_config))
      std::fprintf(stderr, "tierbox daemon: warning: %s\n", line.c_str());
  } catch (const Error& error) {
    std::fprintf(stderr, "tierbox daemon: warning: the configuration callers read: %s\n", error.what());
  }
  auto listener = daemon::socket_from_systemd();
  if (!listener)
    listener = daemon::bind_socket({options.socket, static_cast<mode_t>(mode), options.socket_group});
  std::fprintf(stderr, "tierbox daemon: socket %s, audit log %s\n", listener ? options.socket.c_str() : "?",
               context.audit_log.c_str());
  return daemon::serve(std::move(listener), context);
}

}  // namespace

std::function<int()> add_daemon_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<DaemonOptions>();
  auto* command = app.add_subcommand("daemon", "Serve launches for users who are not root on a unix socket (foreground)");
  command->add_option("--socket", options->socket, "Listen here (default /run/tierbox/tierbox.sock; ignored under socket activation)");
  command->add_option("--socket-group", options->socket_group, "The socket's group: who may launch (default tierbox)");
  command->add_option("--socket-mode", options->socket_mode, "The socket's mode (default 0660)");
  command->add_option("--state-dir", options->state_dir, "Run registry, slots and control sockets here (default: tierbox.json state_dir)");
  command->add_option("--config-dir", common.config_dir, "Look for tiers/ and tierbox.json here first");
  command->add_option("--audit-log", options->audit_log, "Append every run's records and the daemon's own here");
  command->add_option("--pool-size", options->pool_size, "Prepared sandboxes per tier, for every tier (default: tierbox.json warm_pool; 0: none, every launch cold)")
      ->check(CLI::Range(0, 64));
  command->add_option("--request-timeout", options->request_timeout_seconds, "Seconds a client has to send its request (default 10)");
  command->add_option("--max-runs", options->limits.max_runs, "Runs going on at once, overall (default 256)");
  command->add_option("--max-runs-per-user", options->limits.max_runs_per_user, "Runs going on at once per user (default 32)");
  command->add_option("--max-pending", options->limits.max_pending, "Connections waiting for their request, overall (default 128)");
  command->add_option("--max-pending-per-user", options->limits.max_pending_per_user, "... per user (default 16)");
  command->add_option("--refusal-records", options->refusal_budget.records_per_window,
                      "Refused connections of one user recorded one by one per window; the rest are counted in one "
                      "summary record (default 20)");
  command->add_option("--refusal-window", options->refusal_window_seconds, "That window, in seconds (default 60)")
      ->check(CLI::Range(1, 86400));
  command->add_flag("-v,--verbose", common.verbose, "Print each launch step with its timing on stderr");
  return [options, &common] { return run_daemon(*options, common); };
}

}  // namespace tierbox::cli
