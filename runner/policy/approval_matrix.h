// The approval matrix (profiles/approvals.json): which launches need a human
// OK, and of what kind. Pure: parsed into rules, evaluated against a
// LaunchPlan. docs/governance.md documents the file; the runtime that obtains
// the OK (terminal confirmation, approvers, signed grants) is runner/approval/.
//
// Precedence: every rule whose conditions all hold matches; the strictest
// requirement among them wins (none < confirm < approver < two_person), and
// among rules with that requirement the first in the file decides (its
// approver group and timeout apply, and the refusal names it). A tier the
// matrix does not list in `tiers` is refused, so a new tier cannot run
// before someone decided what it needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/launch_plan.h"

namespace tierbox::policy {

enum class Requirement { none = 0, confirm = 1, approver = 2, two_person = 3 };

const char* to_string(Requirement requirement);
std::optional<Requirement> parse_requirement(std::string_view text);
// How many distinct approvers the requirement needs (0, 0, 1, 2).
int approvers_needed(Requirement requirement);

// Conditions on a staged run's change set (`when.apply`, docs/staged-writes.md).
// A rule that has them governs `tierbox apply`, never a launch; a rule
// without them governs launches, never an apply.
struct ApplyConditions {
  std::optional<bool> deletes;                 // the change set deletes something
  std::optional<std::uint64_t> files_above;    // more entries than this
  std::optional<std::uint64_t> bytes_above;    // more bytes written than this
  std::vector<std::string> paths;              // a changed path matches one of these globs (fnmatch, * crosses /)
};

// What an apply is about to do, for the matrix.
struct ApplyFacts {
  std::string tier;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> deleted;  // paths
  std::vector<std::string> paths;    // every changed path
};

struct MatrixRule {
  std::string id;
  std::string origin;  // "approvals.json:/rules/2"
  std::string comment;
  // Conditions; each one given must hold, a list holds when any element does.
  std::vector<std::string> tiers;        // tier name patterns (* and ?)
  std::vector<std::string> widening;     // kinds of policy/widening.h
  std::optional<DataClass> data_class_at_least;
  std::optional<std::uint64_t> memory_above;          // bytes
  std::optional<std::uint32_t> cpu_above;             // millicores
  std::optional<std::uint64_t> pids_above;
  std::optional<std::chrono::milliseconds> wall_time_above;
  std::vector<NetworkMode> network;
  std::optional<bool> review_expired;
  std::optional<ApplyConditions> apply;  // set: an apply rule (see ApplyConditions)
  Requirement require = Requirement::none;
  std::string approvers;  // the group approvers come from (this rule's, else the matrix's)
  std::chrono::milliseconds timeout{0};  // how long a run waits for approvers (this rule's, else the matrix's)
};

inline constexpr const char* kApprovalsFile = "approvals.json";
inline constexpr std::chrono::milliseconds kDefaultApprovalTimeout = std::chrono::minutes(15);

struct ApprovalMatrix {
  std::filesystem::path file;
  std::string sha256;
  std::vector<std::string> tiers;  // the tiers it covers (patterns)
  std::string approvers;           // default approver group
  std::chrono::milliseconds timeout = kDefaultApprovalTimeout;
  std::vector<MatrixRule> rules;
};

// Errors name the file and the JSON pointer (ConfigError, exit 125).
ApprovalMatrix parse_approval_matrix(const nlohmann::json& document, const std::string& file);
// The JSON Schema (draft 2020-12) of approvals.json, for editors and CI
// (`tierbox profile schema approvals`, profiles/schema/).
nlohmann::json approvals_schema();
std::optional<std::filesystem::path> find_approval_matrix_file(const std::vector<std::filesystem::path>& dirs);
// The first approvals.json of the config search dirs; none is an error (fail
// closed: without a matrix nobody decided what needs approval).
ApprovalMatrix load_approval_matrix(const std::vector<std::filesystem::path>& dirs);
ApprovalMatrix load_approval_matrix_file(const std::filesystem::path& file);

struct MatchedRule {
  const MatrixRule* rule = nullptr;
  std::vector<std::string> because;  // one entry per condition, e.g. "--bind-rw /srv:/data"
};

struct MatrixDecision {
  Requirement require = Requirement::none;
  std::vector<MatchedRule> matched;       // every matching rule, in file order
  const MatchedRule* deciding = nullptr;  // into matched; nullptr when nothing matched
  std::string approvers;                  // group of the deciding rule
  std::chrono::milliseconds timeout{0};

  // "rule 'writable-binds' (approvals.json:/rules/1) requires an approver from
  // group 'tierbox-approvers' (--bind-rw /srv:/data)", or "no rule requires
  // an approval".
  [[nodiscard]] std::string describe() const;
};

bool matrix_knows_tier(const ApprovalMatrix& matrix, const std::string& tier);
// Throws Refusal (126) when the matrix does not know the plan's tier.
MatrixDecision evaluate_matrix(const ApprovalMatrix& matrix, const LaunchPlan& plan);

// For `tierbox apply`: the rules with apply conditions that hold. Throws
// Refusal when the matrix does not know the run's tier.
MatrixDecision evaluate_apply_matrix(const ApprovalMatrix& matrix, const ApplyFacts& facts);

// For `profile explain`: the rules that can apply to a tier (its tier
// condition holds or it has none), and their conditions in words.
std::vector<const MatrixRule*> rules_for_tier(const ApprovalMatrix& matrix, const std::string& tier);
std::string describe_conditions(const MatrixRule& rule);
// "an approver from group 'x'", "two distinct approvers from group 'x'", ...
std::string describe_requirement(Requirement requirement, const std::string& approvers);

}  // namespace tierbox::policy
