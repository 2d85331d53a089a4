// Readiness, governance: tier owners and review dates, approval matrix
// coverage, who may approve and who may stop runs, signing keys.
#include <fstream>
#include <set>

#include "approval/grant_store.h"
#include "common/errors.h"
#include "common/rfc3339.h"
#include "common/users.h"
#include "policy/approval_matrix.h"
#include "policy/host_facts.h"
#include "policy/runner_config.h"
#include "readiness/readiness.h"

namespace tierbox::readiness {
namespace {

bool group_exists(const std::string& name) {
  std::ifstream in("/etc/group");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + ":", 0) == 0) return true;
  return false;
}

// A group item: exists and has members.
Item group_item(const std::string& name, const std::string& group, const std::string& role, const std::string& fix) {
  if (group.empty()) return {"people", name, false, "no group is configured: " + role, fix};
  if (!group_exists(group)) return {"people", name, false, "group " + group + " does not exist in /etc/group", "groupadd " + group + " and add its members"};
  const auto members = group_members(group);
  if (members.empty()) return {"people", name, false, "group " + group + " has no members: " + role, "gpasswd -a USER " + group};
  std::string list;
  for (const auto& member : members) list += (list.empty() ? "" : ", ") + member;
  return {"people", name, true, group + ": " + list, "", members};
}

void check_tiers(const Settings& settings, const std::vector<policy::Profile>& tiers, Report& report) {
  const auto today = policy::today_utc();
  for (const auto& tier : tiers) {
    const auto& meta = tier.metadata;
    const std::string review_by = meta.review_by ? meta.review_by->str() : "none";
    const bool overdue = meta.review_by && *meta.review_by < today;
    report.items.push_back({"tiers", "tier " + tier.name, !overdue && !meta.owner.empty(),
                            "owner " + (meta.owner.empty() ? std::string("none") : meta.owner) + ", reviewed on " +
                                (meta.reviewed_on ? meta.reviewed_on->str() : "never") + ", review by " + review_by +
                                (overdue ? " (overdue)" : ""),
                            overdue ? "review the tier and set reviewed_on and review_by in " + meta.source : ""});
  }
  // Tier files nobody can run: the matrix does not list them.
  try {
    const auto matrix = policy::load_approval_matrix(settings.config_dirs);
    report.items.push_back({"tiers", "approval matrix", true, matrix.file.string() + " (sha256 " + matrix.sha256.substr(0, 12) + ")", ""});
    std::set<std::string> seen;
    for (std::size_t i = 0; i + 1 < settings.config_dirs.size(); ++i) {  // the last directory is the shipped one
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(settings.config_dirs[i] / "tiers", ec)) {
        const auto name = entry.path().stem().string();
        if (entry.path().extension() != ".json" || !seen.insert(name).second) continue;
        if (!policy::matrix_knows_tier(matrix, name))
          report.items.push_back({"tiers", "tier " + name, false, "not covered by the approval matrix: it cannot run",
                                  "add it to \"tiers\" of " + matrix.file.string() + ", or remove " + entry.path().string()});
      }
    }
    std::set<std::string> groups{matrix.approvers};
    for (const auto& rule : matrix.rules)
      if (!rule.approvers.empty() && rule.require >= policy::Requirement::approver) groups.insert(rule.approvers);
    for (const auto& group : groups)
      report.items.push_back(group_item("approvers " + group, group, "nobody may approve a run that needs an approver",
                                        "set \"approvers\" in " + matrix.file.string()));
  } catch (const Error& error) {
    report.items.push_back({"tiers", "approval matrix", false, error.what(), "write approvals.json (docs/governance.md)"});
  }
}

void check_keys(const policy::RunnerConfig& config, const Settings& settings, Report& report) {
  approval::TrustStore store;
  try {
    store = approval::load_trust_store(config.governance_dir);
  } catch (const Error& error) {
    report.items.push_back({"keys", "trust store", false, error.what(), "fix " + (config.governance_dir / approval::kTrustStoreFile).string()});
    return;
  }
  if (store.keys.empty()) {
    report.items.push_back({"keys", "trust store", true, "no signing keys (grants and signed checkpoints are not used)", ""});
    return;
  }
  for (const auto& key : store.keys) {
    if (key.revoked) {
      report.items.push_back({"keys", "key " + key.id, true, "revoked on " + key.revoked->at + " (owner " + key.owner + ")", ""});
      continue;
    }
    std::string why;
    if (!user_id(key.owner)) why = "its owner " + key.owner + " is no user of this host";
    const auto problem = approval::key_problem(key, settings.now);
    const std::string rotation = key.rotate_by ? rfc3339_utc(*key.rotate_by).substr(0, 10) : "none";
    if (!key.rotate_by) why += std::string(why.empty() ? "" : "; ") + "no rotation date";
    else if (settings.now > *key.rotate_by) why += std::string(why.empty() ? "" : "; ") + "rotation overdue since " + rotation;
    report.items.push_back({"keys", "key " + key.id, why.empty(),
                            "owner " + key.owner + ", rotate by " + rotation + (problem.empty() ? "" : " (" + problem + ")") +
                                (why.empty() ? "" : ": " + why),
                            why.empty() ? "" : "generate a new key, tierbox keys add it with --owner and --rotate-by, then tierbox keys revoke " + key.id,
                            {{"owner", key.owner}, {"rotate_by", rotation}}});
  }
}

}  // namespace

void check_governance(const Settings& settings, const std::vector<policy::Profile>& tiers, Report& report) {
  check_tiers(settings, tiers, report);
  const auto config = policy::load_runner_config(settings.config_dirs);
  report.items.push_back(group_item("operators", config.operators_group, "only root and each run's requester may stop runs",
                                    "set operators_group in tierbox.json (docs/incident-response.md)"));
  check_keys(config, settings, report);
}

}  // namespace tierbox::readiness
