#include "service/dry_run_report.h"

#include "common/errors.h"
#include "policy/approval_matrix.h"
#include "policy/plan_summary.h"

namespace tierbox::service {

DryRunReport dry_run_report(const DryRun& dry_run) {
  const auto& plan = dry_run.plan;
  const auto& matrix = dry_run.matrix;
  DryRunReport report;
  for (const auto& line : policy::plan_summary_lines(plan)) report.text += line + "\n";
  report.text += "approval matrix: " + matrix.file.string() + "\n";
  if (!policy::matrix_knows_tier(matrix, plan.tier)) {
    report.text += "refused: tier '" + plan.tier + "' is not in the approval matrix (tiers)\n";
    report.exit_status = exit_code::refused;
    return report;
  }
  const auto decision = policy::evaluate_matrix(matrix, plan);
  for (const auto& matched : decision.matched) {
    std::string because;
    for (const auto& reason : matched.because) because += (because.empty() ? "" : "; ") + reason;
    report.text += "rule '" + matched.rule->id + "' (" + matched.rule->origin + ") matches: requires " +
                   policy::describe_requirement(matched.rule->require, matched.rule->approvers) + " (" + because + ")" +
                   (&matched == decision.deciding ? " [deciding]" : "") + "\n";
  }
  if (decision.matched.empty()) report.text += "no rule matches\n";
  report.text += "requires: " + decision.describe() + "\n";
  return report;
}

}  // namespace tierbox::service
