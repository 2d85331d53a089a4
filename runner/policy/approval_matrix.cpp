#include "policy/approval_matrix.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/digest.h"
#include "common/errors.h"
#include "common/units.h"
#include "policy/json_reader.h"
#include "policy/path_pattern.h"
#include "policy/profile_loader.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

using json = nlohmann::json;

std::string cores_text(std::uint32_t millicores) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(millicores) / 1000.0);
  return text;
}

bool is_valid_rule_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool is_valid_group_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool tier_matches(const std::vector<std::string>& patterns, const std::string& tier) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const auto& pattern) { return component_matches(pattern, tier); });
}

void read_conditions(JsonObjectReader reader, MatrixRule& rule) {
  if (auto tiers = reader.string_array("tiers")) rule.tiers = *tiers;
  if (auto widening = reader.string_array("widening")) {
    for (std::size_t i = 0; i < widening->size(); ++i) {
      if (!is_widening_kind((*widening)[i])) {
        std::string known;
        for (const char* kind : kWideningKinds) known += (known.empty() ? "" : ", ") + std::string(kind);
        throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("widening"), i),
                          "unknown widening " + json((*widening)[i]).dump() + " (expected one of: " + known + ")");
      }
    }
    rule.widening = *widening;
  }
  if (auto data_class = reader.string("data_class_at_least")) {
    auto parsed = parse_data_class(*data_class);
    if (!parsed) reader.fail("data_class_at_least", "expected \"public\", \"internal\" or \"secret\"");
    rule.data_class_at_least = parsed;
  }
  if (reader.has("memory_above")) rule.memory_above = reader.size("memory_above");
  if (const json* cpu = reader.raw("cpu_above")) {
    if (!cpu->is_number() || cpu->get<double>() < 0)
      reader.fail("cpu_above", "expected a number of cores, such as 2 or 0.5");
    rule.cpu_above = static_cast<std::uint32_t>(std::llround(cpu->get<double>() * 1000));
  }
  if (reader.has("pids_above")) rule.pids_above = reader.unsigned_integer("pids_above", 4194304);
  if (reader.has("wall_time_above")) rule.wall_time_above = reader.duration("wall_time_above");
  if (auto modes = reader.string_array("network")) {
    for (std::size_t i = 0; i < modes->size(); ++i) {
      const auto& mode = (*modes)[i];
      if (mode == "none") rule.network.push_back(NetworkMode::none);
      else if (mode == "allowlist") rule.network.push_back(NetworkMode::allowlist);
      else if (mode == "host") rule.network.push_back(NetworkMode::host);
      else
        throw ConfigError(reader.file(), json_pointer_append(reader.pointer_of("network"), i),
                          "expected \"none\", \"allowlist\" or \"host\", got " + json(mode).dump());
    }
  }
  if (auto expired = reader.boolean("review_expired")) rule.review_expired = *expired;
  if (auto apply = reader.object("apply")) {
    ApplyConditions conditions;
    if (auto deletes = apply->boolean("deletes")) conditions.deletes = *deletes;
    if (apply->has("files_above")) conditions.files_above = apply->unsigned_integer("files_above", 1ULL << 40);
    if (apply->has("bytes_above")) conditions.bytes_above = apply->size("bytes_above");
    if (auto paths = apply->string_array("paths")) conditions.paths = *paths;
    apply->finish();
    const bool launch_conditions = !rule.widening.empty() || rule.data_class_at_least || rule.memory_above ||
                                   rule.cpu_above || rule.pids_above || rule.wall_time_above || !rule.network.empty() ||
                                   rule.review_expired;
    if (launch_conditions)
      reader.fail("apply", "an apply rule takes only \"tiers\" besides \"apply\" (the launch conditions say nothing "
                           "about a change set; fix: make it two rules)");
    rule.apply = std::move(conditions);
  }
  reader.finish();
}

bool apply_holds(const MatrixRule& rule, const ApplyFacts& facts, std::vector<std::string>& because) {
  if (!rule.apply) return false;
  if (!rule.tiers.empty()) {
    if (!tier_matches(rule.tiers, facts.tier)) return false;
    because.push_back("tier " + facts.tier);
  }
  const auto& conditions = *rule.apply;
  if (conditions.deletes) {
    if (facts.deleted.empty() == *conditions.deletes) return false;
    because.push_back(facts.deleted.empty() ? "deletes nothing"
                                            : "deletes " + std::to_string(facts.deleted.size()) + " entries (" +
                                                  facts.deleted.front() + (facts.deleted.size() > 1 ? ", ..." : "") + ")");
  }
  if (conditions.files_above) {
    if (facts.files <= *conditions.files_above) return false;
    because.push_back(std::to_string(facts.files) + " entries");
  }
  if (conditions.bytes_above) {
    if (facts.bytes <= *conditions.bytes_above) return false;
    because.push_back(format_size(facts.bytes) + " written");
  }
  if (!conditions.paths.empty()) {
    std::string matched;
    for (const auto& path : facts.paths)
      for (const auto& pattern : conditions.paths)
        if (matched.empty() && ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) matched = path + " matches " + pattern;
    if (matched.empty()) return false;
    because.push_back(matched);
  }
  return true;
}

MatrixRule read_rule(const json& value, const std::string& file, const std::string& pointer,
                     const ApprovalMatrix& matrix) {
  JsonObjectReader reader(value, file, pointer);
  MatrixRule rule;
  rule.origin = file + ":" + pointer;
  auto id = reader.string("id");
  if (!id || !is_valid_rule_id(*id)) reader.fail("id", "expected a rule id of letters, digits, '-', '_' or '.'");
  rule.id = *id;
  rule.comment = reader.string("comment").value_or("");
  if (auto when = reader.object("when")) read_conditions(std::move(*when), rule);
  auto require = reader.string("require");
  if (!require) reader.fail("require", "missing (expected \"none\", \"confirm\", \"approver\" or \"two_person\")");
  auto parsed = parse_requirement(*require);
  if (!parsed) reader.fail("require", "expected \"none\", \"confirm\", \"approver\" or \"two_person\", got " + json(*require).dump());
  rule.require = *parsed;
  rule.approvers = reader.string("approvers").value_or(matrix.approvers);
  if (!rule.approvers.empty() && !is_valid_group_name(rule.approvers))
    reader.fail("approvers", "expected a Unix group name");
  if (approvers_needed(rule.require) > 0 && rule.approvers.empty())
    reader.fail("approvers", "missing: a rule requiring approvers names their Unix group (here or as the matrix's \"approvers\")");
  rule.timeout = reader.duration("timeout").value_or(matrix.timeout);
  if (rule.timeout.count() <= 0) reader.fail("timeout", "expected a positive duration, e.g. \"15m\"");
  reader.finish();
  return rule;
}

bool holds(const MatrixRule& rule, const LaunchPlan& plan, std::vector<std::string>& because) {
  if (rule.apply) return false;  // an apply rule: evaluate_apply_matrix
  if (!rule.tiers.empty()) {
    if (!tier_matches(rule.tiers, plan.tier)) return false;
    because.push_back("tier " + plan.tier);
  }
  if (!rule.widening.empty()) {
    std::string asked;
    for (const auto& item : plan.widening)
      if (std::find(rule.widening.begin(), rule.widening.end(), item.kind) != rule.widening.end())
        asked += (asked.empty() ? "" : ", ") + item.text;
    if (asked.empty()) return false;
    because.push_back(asked);
  }
  if (rule.data_class_at_least) {
    const DataExposure* highest = nullptr;
    for (const auto& exposure : plan.data_exposure)
      if (exposure.data_class >= *rule.data_class_at_least && (!highest || exposure.data_class > highest->data_class))
        highest = &exposure;
    if (!highest) return false;
    because.push_back("exposes " + std::string(to_string(highest->data_class)) + " data at " + highest->target);
  }
  const auto& limits = plan.cgroup_limits;
  if (rule.memory_above) {
    // No limit at all is the costliest.
    if (limits.memory.value && *limits.memory.value <= *rule.memory_above) return false;
    because.push_back("memory " + (limits.memory.value ? format_size(*limits.memory.value) : "unlimited") + " above " +
                      format_size(*rule.memory_above));
  }
  if (rule.cpu_above) {
    if (limits.cpu_millicores.value && *limits.cpu_millicores.value <= *rule.cpu_above) return false;
    because.push_back("cpu " + (limits.cpu_millicores.value ? cores_text(*limits.cpu_millicores.value) : "unlimited") +
                      " above " + cores_text(*rule.cpu_above));
  }
  if (rule.pids_above) {
    if (limits.pids.value && *limits.pids.value <= *rule.pids_above) return false;
    because.push_back("pids " + (limits.pids.value ? std::to_string(*limits.pids.value) : "unlimited") + " above " +
                      std::to_string(*rule.pids_above));
  }
  if (rule.wall_time_above) {
    if (plan.wall_time <= *rule.wall_time_above) return false;
    because.push_back("wall time " + format_duration(plan.wall_time) + " above " + format_duration(*rule.wall_time_above));
  }
  if (!rule.network.empty()) {
    if (std::find(rule.network.begin(), rule.network.end(), plan.network) == rule.network.end()) return false;
    because.push_back("network mode " + std::string(to_string(plan.network)));
  }
  if (rule.review_expired) {
    if (plan.review_expired != *rule.review_expired) return false;
    because.push_back(plan.review_expired ? "tier past its review date (--allow-expired-tier)" : "tier reviewed");
  }
  if (because.empty()) because.push_back("every run");
  return true;
}

}  // namespace

const char* to_string(Requirement requirement) {
  switch (requirement) {
    case Requirement::none: return "none";
    case Requirement::confirm: return "confirm";
    case Requirement::approver: return "approver";
    case Requirement::two_person: return "two_person";
  }
  return "?";
}

std::optional<Requirement> parse_requirement(std::string_view text) {
  if (text == "none") return Requirement::none;
  if (text == "confirm") return Requirement::confirm;
  if (text == "approver") return Requirement::approver;
  if (text == "two_person") return Requirement::two_person;
  return std::nullopt;
}

int approvers_needed(Requirement requirement) {
  return requirement == Requirement::approver ? 1 : requirement == Requirement::two_person ? 2 : 0;
}

std::string describe_requirement(Requirement requirement, const std::string& approvers) {
  switch (requirement) {
    case Requirement::none: return "no approval";
    case Requirement::confirm: return "a confirmation at the caller's terminal";
    case Requirement::approver: return "an approver from group '" + approvers + "' (not the requester)";
    case Requirement::two_person: return "two distinct approvers from group '" + approvers + "' (neither the requester)";
  }
  return "?";
}

ApprovalMatrix parse_approval_matrix(const json& document, const std::string& file) {
  JsonObjectReader reader(document, file, "");
  ApprovalMatrix matrix;
  matrix.file = file;
  reader.string("$schema");
  reader.string("comment");
  reader.string("owner");
  auto tiers = reader.string_array("tiers");
  if (!tiers || tiers->empty())
    reader.fail("tiers", "missing: the tiers this matrix covers (a tier it does not list is refused), e.g. [\"untrusted\"]");
  matrix.tiers = *tiers;
  matrix.approvers = reader.string("approvers").value_or("");
  if (!matrix.approvers.empty() && !is_valid_group_name(matrix.approvers))
    reader.fail("approvers", "expected a Unix group name");
  matrix.timeout = reader.duration("approval_timeout").value_or(kDefaultApprovalTimeout);
  if (matrix.timeout.count() <= 0) reader.fail("approval_timeout", "expected a positive duration, e.g. \"15m\"");
  const json* rules = reader.array("rules");
  if (!rules) reader.fail("rules", "missing (an array of rules; [] when no launch needs an approval)");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < rules->size(); ++i) {
    auto rule = read_rule((*rules)[i], file, json_pointer_append("/rules", i), matrix);
    if (!ids.insert(rule.id).second)
      throw ConfigError(file, json_pointer_append("/rules", i) + "/id", "duplicate rule id " + json(rule.id).dump());
    matrix.rules.push_back(std::move(rule));
  }
  reader.finish();
  return matrix;
}

json approvals_schema() {
  json schema = json::parse(R"json({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tierbox.example/schema/approvals.schema.json",
    "title": "tierbox approval matrix (profiles/approvals.json; docs/governance.md)",
    "type": "object", "additionalProperties": false, "required": ["tiers", "rules"],
    "properties": {
      "$schema": {"type": "string"}, "comment": {"type": "string"}, "owner": {"type": "string"},
      "tiers": {"type": "array", "minItems": 1, "items": {"type": "string"}},
      "approvers": {"$ref": "#/$defs/group"},
      "approval_timeout": {"$ref": "#/$defs/duration"},
      "rules": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["id", "require"],
        "properties": {
          "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "comment": {"type": "string"},
          "require": {"enum": ["none", "confirm", "approver", "two_person"]},
          "approvers": {"$ref": "#/$defs/group"}, "timeout": {"$ref": "#/$defs/duration"},
          "when": {"type": "object", "additionalProperties": false, "properties": {
            "tiers": {"type": "array", "items": {"type": "string"}},
            "widening": {"type": "array", "items": {"enum": []}},
            "data_class_at_least": {"enum": ["public", "internal", "secret"]},
            "memory_above": {"$ref": "#/$defs/size"}, "cpu_above": {"type": "number", "minimum": 0},
            "pids_above": {"type": "integer", "minimum": 0, "maximum": 4194304},
            "wall_time_above": {"$ref": "#/$defs/duration"},
            "network": {"type": "array", "items": {"enum": ["none", "allowlist", "host"]}},
            "review_expired": {"type": "boolean"},
            "apply": {"type": "object", "additionalProperties": false, "properties": {
              "deletes": {"type": "boolean"}, "files_above": {"type": "integer", "minimum": 0},
              "bytes_above": {"$ref": "#/$defs/size"}, "paths": {"type": "array", "items": {"type": "string"}}}}}}}}}
    },
    "$defs": {"group": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,32}$"}}
  })json");
  const auto shared = profile_schema_definitions();
  schema["$defs"]["size"] = shared["size"];
  schema["$defs"]["duration"] = shared["duration"];
  auto& kinds = schema["properties"]["rules"]["items"]["properties"]["when"]["properties"]["widening"]["items"]["enum"];
  for (const char* kind : kWideningKinds) kinds.push_back(kind);
  return schema;
}

std::optional<std::filesystem::path> find_approval_matrix_file(const std::vector<std::filesystem::path>& dirs) {
  return find_config_file(dirs, kApprovalsFile);
}

ApprovalMatrix load_approval_matrix_file(const std::filesystem::path& file) {
  std::string bytes;
  const auto document = read_json_file(file.string(), &bytes);
  auto matrix = parse_approval_matrix(document, file.string());
  matrix.sha256 = sha256_hex(bytes);
  return matrix;
}

ApprovalMatrix load_approval_matrix(const std::vector<std::filesystem::path>& dirs) {
  auto file = find_approval_matrix_file(dirs);
  if (!file) {
    std::string searched;
    for (const auto& dir : dirs) searched += (searched.empty() ? "" : ", ") + (dir / kApprovalsFile).string();
    throw ConfigError("no approval matrix found (searched " + searched +
                      "; fix: install approvals.json next to tiers/, see docs/governance.md)");
  }
  return load_approval_matrix_file(*file);
}

bool matrix_knows_tier(const ApprovalMatrix& matrix, const std::string& tier) { return tier_matches(matrix.tiers, tier); }

namespace {

// Every rule for which holds(rule, because) is true matches; the strictest
// requirement decides, and among equals the first in the file.
template <typename Holds>
MatrixDecision decide(const ApprovalMatrix& matrix, const Holds& holds_for) {
  MatrixDecision decision;
  for (const auto& rule : matrix.rules) {
    std::vector<std::string> because;
    if (holds_for(rule, because)) decision.matched.push_back({&rule, std::move(because)});
  }
  for (const auto& matched : decision.matched) {
    // Strictly stricter only: among equals the first in the file decides.
    if (!decision.deciding || matched.rule->require > decision.deciding->rule->require) decision.deciding = &matched;
  }
  if (decision.deciding) {
    decision.require = decision.deciding->rule->require;
    decision.approvers = decision.deciding->rule->approvers;
    decision.timeout = decision.deciding->rule->timeout;
  }
  return decision;
}

}  // namespace

MatrixDecision evaluate_matrix(const ApprovalMatrix& matrix, const LaunchPlan& plan) {
  if (!matrix_knows_tier(matrix, plan.tier))
    throw Refusal("tier '" + plan.tier + "' is not in the approval matrix " + matrix.file.string() +
                  " (tiers): nobody has decided what its launches need (fix: add it to \"tiers\" there)");
  return decide(matrix, [&](const auto& rule, auto& because) { return holds(rule, plan, because); });
}

MatrixDecision evaluate_apply_matrix(const ApprovalMatrix& matrix, const ApplyFacts& facts) {
  if (!matrix_knows_tier(matrix, facts.tier))
    throw Refusal("tier '" + facts.tier + "' is not in the approval matrix " + matrix.file.string() +
                  " (tiers): nobody has decided what its applies need (fix: add it to \"tiers\" there)");
  return decide(matrix, [&](const auto& rule, auto& because) { return apply_holds(rule, facts, because); });
}

std::string MatrixDecision::describe() const {
  if (!deciding || require == Requirement::none) return "no rule requires an approval";
  std::string because;
  for (const auto& reason : deciding->because) because += (because.empty() ? "" : "; ") + reason;
  return "rule '" + deciding->rule->id + "' (" + deciding->rule->origin + ") requires " +
         describe_requirement(require, approvers) + " (" + because + ")";
}

std::vector<const MatrixRule*> rules_for_tier(const ApprovalMatrix& matrix, const std::string& tier) {
  std::vector<const MatrixRule*> rules;
  for (const auto& rule : matrix.rules)
    if (rule.tiers.empty() || tier_matches(rule.tiers, tier)) rules.push_back(&rule);
  return rules;
}

std::string describe_conditions(const MatrixRule& rule) {
  std::vector<std::string> parts;
  const auto list = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : " or ") + item;
    return text;
  };
  if (!rule.widening.empty()) parts.push_back("the caller asks for " + list(rule.widening));
  if (rule.data_class_at_least) parts.push_back("a mount exposes " + std::string(to_string(*rule.data_class_at_least)) + " data or higher");
  if (rule.memory_above) parts.push_back("memory above " + format_size(*rule.memory_above));
  if (rule.cpu_above) parts.push_back("cpu above " + cores_text(*rule.cpu_above) + " cores");
  if (rule.pids_above) parts.push_back("pids above " + std::to_string(*rule.pids_above));
  if (rule.wall_time_above) parts.push_back("wall time above " + format_duration(*rule.wall_time_above));
  if (!rule.network.empty()) {
    std::vector<std::string> modes;
    for (auto mode : rule.network) modes.emplace_back(to_string(mode));
    parts.push_back("network mode " + list(modes));
  }
  if (rule.review_expired) parts.push_back(*rule.review_expired ? "the tier is past its review date" : "the tier is reviewed");
  if (rule.apply) {
    const auto& apply = *rule.apply;
    if (apply.deletes) parts.push_back(*apply.deletes ? "an apply deletes files" : "an apply deletes nothing");
    if (apply.files_above) parts.push_back("an apply changes more than " + std::to_string(*apply.files_above) + " entries");
    if (apply.bytes_above) parts.push_back("an apply writes more than " + format_size(*apply.bytes_above));
    if (!apply.paths.empty()) parts.push_back("an apply changes " + list(apply.paths));
    if (parts.empty()) return "every apply";
  }
  if (parts.empty()) return "every run";
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "when " : " and ") + part;
  return text;
}

}  // namespace tierbox::policy
