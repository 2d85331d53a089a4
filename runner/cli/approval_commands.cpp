// `tierbox approvals`, `tierbox approve ID`, `tierbox deny ID --reason ...`:
// run by approvers (ordinary users). Who they are is not said here: the
// waiting runner takes it from the connection (SO_PEERCRED), see
// approval/pending.h.
#include <cstdio>

#include "approval/pending.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/json_bytes.h"
#include "policy/runner_config.h"

namespace tierbox::cli {
namespace {

using nlohmann::json;

struct ApprovalOptions {
  std::string id;
  std::string reason;
  bool json = false;
  bool all = false;
};

std::filesystem::path approvals_dir(const CommonOptions& common) {
  const auto text = search_dirs(common);
  return policy::load_runner_config({text.begin(), text.end()}).approvals_dir;
}

std::string argv_text(const json& argv) {
  std::string text;
  // A word that is not UTF-8 is stored as its bytes (common/json_bytes.h).
  for (const auto& word : argv) text += (text.empty() ? "" : " ") + quote(bytes_from_json(word).value_or("?"));
  return text;
}

int list(const ApprovalOptions& options, const CommonOptions& common) {
  json out = json::array();
  for (const auto& listed : approval::list_requests(approvals_dir(common))) {
    if (!listed.alive && !options.all) continue;
    auto request = listed.request;
    request["waiting"] = listed.alive;
    out.push_back(request);
  }
  if (options.json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  if (out.empty()) std::printf("no pending approval requests\n");
  for (const auto& request : out) {
    const auto requester = request.value("requester", json::object());
    std::printf("%s  requested by %s at %s, expires %s%s\n", request.value("id", "").c_str(),
                printable(requester.value("name", "?")).c_str(), request.value("created_at", "").c_str(),
                request.value("expires_at", "").c_str(), request["waiting"].get<bool>() ? "" : " (stale: its runner is gone)");
    std::printf("  requires: %s\n", request.value("requires", "").c_str());
    std::printf("  approvals so far: %zu of %d\n", request.value("approved_by", json::array()).size(), request.value("needed", 0));
    for (const auto& line : request.value("summary", json::array()))
      std::printf("  %s\n", printable(line.get<std::string>()).c_str());
  }
  return 0;
}

// Shows the approver what they decide on, then sends the vote with the plan
// digest they were shown: the runner refuses a vote for another plan.
int vote(const ApprovalOptions& options, const CommonOptions& common, bool approve) {
  const auto dir = approvals_dir(common);
  const auto listed = approval::find_request(dir, options.id);
  if (!listed || !listed->alive)
    throw Error("no approval request " + quote(options.id) + " is waiting (see `tierbox approvals`)", exit_code::runner_failed);
  const auto& request = listed->request;
  // What the approver reads must be what they approve: no escape sequence
  // of the caller's command line may rewrite it on their terminal.
  std::printf("request %s by %s: %s\n", printable(options.id).c_str(),
              printable(request.value("requester", json::object()).value("name", "?")).c_str(),
              printable(argv_text(request.value("argv", json::array()))).c_str());
  for (const auto& line : request.value("summary", json::array()))
    std::printf("  %s\n", printable(line.get<std::string>()).c_str());
  const auto answer = approval::send_vote(dir, options.id, approve, options.reason, request.value("plan_digest", ""));
  std::printf("%s\n", answer.message.c_str());
  if (answer.accepted) return 0;
  // The runner refused the vote (the requester, not in the group, ...).
  return exit_code::refused;
}

}  // namespace

std::function<int()> add_approval_commands(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<ApprovalOptions>();
  auto* list_app = app.add_subcommand("approvals", "List the launches waiting for an approver");
  list_app->add_flag("--json", options->json, "A JSON array");
  list_app->add_flag("--all", options->all, "Also requests whose runner is gone");
  list_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  auto* approve_app = app.add_subcommand("approve", "Approve a waiting launch (as yourself; never the requester)");
  approve_app->add_option("id", options->id, "Request id (tierbox approvals)")->required();
  approve_app->add_option("--reason", options->reason, "Why (recorded in the audit trail)");
  approve_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  auto* deny_app = app.add_subcommand("deny", "Deny a waiting launch");
  deny_app->add_option("id", options->id, "Request id (tierbox approvals)")->required();
  deny_app->add_option("--reason", options->reason, "Why (shown to the requester and recorded)")->required();
  deny_app->add_option("--config-dir", common.config_dir, "Look for tierbox.json here first");
  return [options, &common, list_app, approve_app, deny_app] {
    if (list_app->parsed()) return list(*options, common);
    if (approve_app->parsed()) return vote(*options, common, true);
    if (deny_app->parsed()) return vote(*options, common, false);
    return int{exit_code::runner_failed};
  };
}

}  // namespace tierbox::cli
