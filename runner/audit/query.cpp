#include "audit/query.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/json_bytes.h"
#include "common/utf8.h"

namespace tierbox::audit {
namespace {

using json = nlohmann::json;

std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// One word of a recorded argv as text: a word that is not UTF-8 is recorded
// as its bytes (common/json_bytes.h) and shown with them spelled \xNN.
std::string word_of(const json& word) {
  if (const auto bytes = bytes_from_json(word)) return spell_out_invalid_utf8(*bytes);
  return text_of(word);
}

std::string command_of(const json& record) {
  const auto argv = record.value("argv", json::array());
  if (!argv.is_array() || argv.empty()) return "";
  return word_of(argv[0]);
}

std::string argv_text(const json& record) {
  std::string text;
  for (const auto& arg : record.value("argv", json::array())) text += (text.empty() ? "" : " ") + word_of(arg);
  return text;
}

// The one-line detail of a record for the table.
std::string detail(const json& record) {
  const auto event = record.value("event", "");
  if (event == "request") {
    const auto requirement = record.value("requirement", json::object());
    return "requires " + requirement.value("require", "?") +
           (requirement.value("rule", "").empty() ? "" : " (rule " + requirement.value("rule", "") + ")") + ": " +
           argv_text(record);
  }
  if (event == "decision") {
    const auto decision = record.value("decision", json::object());
    std::string by;
    for (const auto& person : decision.value("by", json::array())) by += (by.empty() ? "" : ",") + text_of(person.value("name", json()));
    return decision.value("how", "") + (by.empty() ? "" : " by " + by) +
           (decision.value("reason", "").empty() ? "" : ": " + decision.value("reason", ""));
  }
  if (event == "approval")
    return record.value("vote", "") + " by " + text_of(record.value("by", json::object()).value("name", json())) +
           (record.value("accepted", false) ? "" : " (rejected: " + record.value("message", "") + ")");
  if (event == "start") return "pid " + text_of(record.value("pid", json())) + ": " + argv_text(record);
  if (event == "end") {
    const auto exit = record.value("exit", json::object());
    std::string text = "exit " + text_of(exit.value("code", json())) +
                       (exit.value("signal", json()).is_null() ? "" : " signal " + text_of(exit["signal"]));
    for (const auto& violation : record.value("violations", json::array())) text += " [" + violation.value("kind", "") + "]";
    if (!record.value("error", json()).is_null()) text += ": " + text_of(record["error"]);
    return text;
  }
  if (event == "profile_refused" || event == "grant_refused" || event == "grant_used") return record.value("reason", "");
  if (event == "control") return record.value("action", "") + " " + record.value("result", "");
  if (event == "checkpoint") return "covers seq " + text_of(record.value("covers_seq", json())) + ", key " + record.value("key_id", "");
  return "";
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() > width) text = text.substr(0, width - 1) + "~";
  text.resize(width, ' ');
  return text;
}

std::string iso(TimePoint time) {
  const auto seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

json brief(const json& record) {
  return {{"ts", record.value("ts", "")}, {"seq", record.value("seq", json())}, {"run_id", record.value("run_id", "")},
          {"user", user_label(record)},   {"tier", record.value("tier", "")}};
}

bool is_refusal(const json& record) {
  const auto event = record.value("event", "");
  return (event == "decision" && record.value("outcome", "") == "denied") || event == "profile_refused" ||
         event == "grant_refused";
}

}  // namespace

std::optional<TimePoint> parse_timestamp(const std::string& text) {
  std::tm utc{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                  &utc.tm_min, &utc.tm_sec, &millis) < 6)
    return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(::timegm(&utc)) + std::chrono::milliseconds(millis);
}

namespace {

// Who a record is about: its user, or for a record that has none (a control
// record as issue 9 writes it), who acted.
json actor(const json& record) {
  if (record.contains("user") && record["user"].is_object()) return record["user"];
  if (record.contains("by") && record["by"].is_object()) return record["by"];
  return json::object();
}

// A control record says "result" where the others say "outcome".
std::string outcome_of(const json& record) {
  if (record.contains("outcome")) return text_of(record["outcome"]);
  return text_of(record.value("result", json()));
}

}  // namespace

std::string user_label(const json& record) {
  const auto user = actor(record);
  std::string name = text_of(user.value("name", json()));
  if (name.empty()) name = text_of(user.value("uid", json()));
  const auto sudo = text_of(user.value("sudo_user", json()));
  return sudo.empty() ? name : name + " (sudo: " + sudo + ")";
}

bool matches(const json& record, const ShowFilter& filter) {
  if (filter.since || filter.until) {
    const auto ts = parse_timestamp(record.value("ts", ""));
    if (!ts || (filter.since && *ts < *filter.since) || (filter.until && *ts > *filter.until)) return false;
  }
  if (!filter.user.empty()) {
    const auto user = actor(record);
    if (text_of(user.value("name", json())) != filter.user && text_of(user.value("uid", json())) != filter.user &&
        text_of(user.value("sudo_user", json())) != filter.user)
      return false;
  }
  if (!filter.tier.empty() && record.value("tier", "") != filter.tier) return false;
  if (!filter.run_id.empty() && record.value("run_id", "") != filter.run_id) return false;
  if (!filter.event.empty() && record.value("event", "") != filter.event) return false;
  if (!filter.outcome.empty() && outcome_of(record) != filter.outcome) return false;
  return true;
}

std::string table_header() {
  return pad("TIME", 24) + " " + pad("SEQ", 6) + " " + pad("EVENT", 15) + " " + pad("RUN", 16) + " " + pad("USER", 16) +
         " " + pad("TIER", 16) + " " + pad("OUTCOME", 13) + " DETAIL";
}

std::string table_row(const json& record) {
  return pad(record.value("ts", ""), 24) + " " + pad(text_of(record.value("seq", json())), 6) + " " +
         pad(record.value("event", ""), 15) + " " + pad(record.value("run_id", ""), 16) + " " +
         pad(user_label(record), 16) + " " + pad(record.value("tier", ""), 16) + " " +
         pad(outcome_of(record), 13) + " " + detail(record);
}

json build_report(const std::vector<json>& records, TimePoint since, TimePoint until) {
  std::map<std::string, int> by_tier, by_user, approvers, violation_counts;
  std::map<std::pair<std::string, std::string>, int> by_tier_user;
  json refusals = json::array(), approvals = json::array(), violations = json::array(), overrides = json::array(),
       new_commands = json::array(), controls = json::array();
  std::set<std::string> seen_before, seen_in_window;
  std::map<std::string, json> open_runs;
  int runs = 0;
  for (const auto& record : records) {
    const auto ts = parse_timestamp(record.value("ts", ""));
    const auto event = record.value("event", "");
    const bool in_window = ts && *ts >= since && *ts <= until;
    if (event == "start") {
      const auto command = command_of(record);
      if (!in_window) {
        if (ts && *ts < since) seen_before.insert(command);
        continue;
      }
      if (!seen_before.count(command) && seen_in_window.insert(command).second) {
        auto item = brief(record);
        item["command"] = command;
        new_commands.push_back(item);
      }
      ++runs;
      ++by_tier[record.value("tier", "")];
      ++by_user[user_label(record)];
      ++by_tier_user[{record.value("tier", ""), user_label(record)}];
      for (const auto& override_text : record.value("overrides", json::array())) {
        auto item = brief(record);
        item["override"] = override_text;
        overrides.push_back(item);
      }
      open_runs[record.value("run_id", "")] = brief(record);
      continue;
    }
    if (!in_window) continue;
    if (event == "end") {
      open_runs.erase(record.value("run_id", ""));
      if (record.value("outcome", "") == "ended unknown") {
        auto item = brief(record);
        item["kind"] = "ended_unknown";
        violations.push_back(item);
        ++violation_counts["ended_unknown"];
      }
      for (const auto& violation : record.value("violations", json::array())) {
        auto item = brief(record);
        item.update(violation);
        violations.push_back(item);
        ++violation_counts[violation.value("kind", "")];
      }
    }
    if (is_refusal(record)) {
      auto item = brief(record);
      item["event"] = event;
      item["reason"] = event == "decision" ? record.value("decision", json::object()).value("reason", "") : record.value("reason", "");
      refusals.push_back(item);
    }
    if (event == "control") {
      auto item = brief(record);
      item["action"] = record.value("action", "");
      item["result"] = outcome_of(record);
      controls.push_back(item);
      continue;
    }
    if (event == "decision" && record.value("outcome", "") == "allowed") {
      const auto decision = record.value("decision", json::object());
      if (decision.value("how", "none") == "none") continue;
      auto item = brief(record);
      item["how"] = decision.value("how", "");
      item["rule"] = decision.value("rule", "");
      json by = json::array();
      for (const auto& person : decision.value("by", json::array())) {
        const auto name = text_of(person.value("name", json())).empty() ? text_of(person.value("uid", json()))
                                                                          : text_of(person.value("name", json()));
        by.push_back(name);
        ++approvers[name];
      }
      item["by"] = by;
      approvals.push_back(item);
    }
  }
  json tier_user = json::array();
  for (const auto& [key, count] : by_tier_user) tier_user.push_back({{"tier", key.first}, {"user", key.second}, {"runs", count}});
  json still_open = json::array();
  for (const auto& [run_id, item] : open_runs) still_open.push_back(item);
  return {{"since", iso(since)},
          {"until", iso(until)},
          {"runs", {{"total", runs}, {"by_tier", by_tier}, {"by_user", by_user}, {"by_tier_and_user", tier_user}}},
          {"refusals", refusals},
          {"approvals", approvals},
          {"approvers", approvers},
          {"violations", violations},
          {"violation_counts", violation_counts},
          {"overrides", overrides},
          {"new_commands", new_commands},
          {"controls", controls},
          {"without_end", still_open}};
}

std::string render_report(const json& report) {
  std::string out = "tierbox audit report, " + report.value("since", "") + " to " + report.value("until", "") + "\n\n";
  const auto& runs = report["runs"];
  out += "Runs: " + std::to_string(runs.value("total", 0)) + "\n";
  for (const auto& item : runs["by_tier_and_user"])
    out += "  " + pad(item.value("tier", ""), 20) + " " + pad(item.value("user", ""), 24) + " " +
           std::to_string(item.value("runs", 0)) + "\n";
  const auto section = [&](const std::string& title, const json& items, auto&& line) {
    out += "\n" + title + ": " + std::to_string(items.size()) + "\n";
    for (const auto& item : items) out += "  " + item.value("ts", "") + " " + item.value("run_id", "") + " " + line(item) + "\n";
  };
  section("Refusals", report["refusals"], [](const json& item) {
    return item.value("user", "") + " tier " + item.value("tier", "") + ": " + item.value("reason", "");
  });
  section("Approvals", report["approvals"], [](const json& item) {
    std::string by;
    for (const auto& name : item["by"]) by += (by.empty() ? "" : ", ") + name.get<std::string>();
    return item.value("how", "") + " by " + by + " for " + item.value("user", "") + " (tier " + item.value("tier", "") +
           (item.value("rule", "").empty() ? "" : ", rule " + item.value("rule", "")) + ")";
  });
  out += "Approvers:";
  for (const auto& [name, count] : report["approvers"].items()) out += " " + name + " (" + count.dump() + ")";
  out += "\n";
  section("Violations", report["violations"], [](const json& item) {
    std::string text = item.value("kind", "") + " " + item.value("user", "") + " tier " + item.value("tier", "");
    if (item.contains("destinations")) text += " " + item["destinations"].dump();
    if (item.contains("syscalls")) text += " " + item["syscalls"].dump();
    return text;
  });
  section("Overrides", report["overrides"], [](const json& item) {
    return item.value("user", "") + ": " + item.value("override", "");
  });
  section("Commands seen for the first time", report["new_commands"], [](const json& item) {
    return item.value("command", "") + " by " + item.value("user", "") + " (tier " + item.value("tier", "") + ")";
  });
  section("Incident-response actions", report["controls"], [](const json& item) {
    return item.value("action", "") + " by " + item.value("user", "") + ": " + item.value("result", "");
  });
  section("Started, no end record yet (running, or ended unknown)", report["without_end"], [](const json& item) {
    return item.value("user", "") + " tier " + item.value("tier", "");
  });
  return out;
}

}  // namespace tierbox::audit
