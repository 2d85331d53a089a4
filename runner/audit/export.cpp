#include "audit/export.h"

#include <map>

#include "audit/query.h"

namespace tierbox::audit {
namespace {

using json = nlohmann::json;

// The record fields the OCSF mapping places; all others go to unmapped.
const char* const kMappedFields[] = {"seq", "ts", "hash", "event", "outcome", "run_id", "user", "host", "argv", "pid"};

long long epoch_ms(const std::string& ts) {
  const auto time = parse_timestamp(ts);
  return time ? std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count() : 0;
}

// argv as text: elements that are byte arrays (not UTF-8) spelled \xNN.
std::string argv_text(const json& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    if (arg.is_string()) {
      text += arg.get<std::string>();
    } else if (arg.is_array()) {
      for (const auto& byte : arg) {
        const int value = byte.get<int>();
        if (value >= 0x20 && value < 0x7f) text += static_cast<char>(value);
        else {
          char hex[5];
          std::snprintf(hex, sizeof hex, "\\x%02x", value);
          text += hex;
        }
      }
    }
  }
  return text;
}

std::string text_of(const json& value) { return value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump(); }

bool failed_outcome(const std::string& outcome) {
  return outcome == "denied" || outcome == "refused" || outcome == "error" || outcome == "failed" || outcome == "killed" ||
         outcome == "timeout" || outcome == "ended unknown" || outcome == "rejected";
}

// OCSF severity_id: 1 informational, 3 medium (a refusal or a bad end),
// 4 high (a run with violations).
int severity_of(const json& record) {
  const auto violations = record.value("violations", json::array());
  if (violations.is_array() && !violations.empty()) return 4;
  return failed_outcome(record.value("outcome", "")) ? 3 : 1;
}

int activity_of(const std::string& event, const std::string& outcome) {
  if (event == "start") return 1;
  if (event == "end") return 2;
  if (event == "profile_refused" || (event == "decision" && outcome == "denied")) return 1;
  return 99;
}

json user_object(const json& user) {
  json out = json::object();
  if (user.contains("uid")) out["uid"] = text_of(user["uid"]);
  if (user.contains("name")) out["name"] = text_of(user["name"]);
  return out;
}

json ocsf_event(const json& record, const json* decision, const std::string& version) {
  const std::string event = record.value("event", "");
  const std::string outcome = record.value("outcome", record.value("result", ""));
  const int activity = activity_of(event, outcome);
  json labels = json::array();
  if (record.contains("tier")) labels.push_back("tier:" + text_of(record["tier"]));
  if (record.contains("simulation")) labels.push_back("simulation:" + text_of(record["simulation"]));
  json out = {
      {"class_uid", 1007},
      {"class_name", "Process Activity"},
      {"category_uid", 1},
      {"category_name", "System Activity"},
      {"activity_id", activity},
      {"activity_name", activity == 1 ? "Launch" : activity == 2 ? "Terminate" : event},
      {"type_uid", 1007 * 100 + activity},
      {"time", epoch_ms(record.value("ts", ""))},
      {"severity_id", severity_of(record)},
      {"status", outcome},
      {"status_id", outcome.empty() ? 0 : failed_outcome(outcome) ? 2 : 1},
      {"metadata",
       {{"version", kOcsfVersion},
        {"product", {{"name", "tierbox"}, {"vendor_name", "tierbox"}, {"version", version}}},
        {"uid", record.value("hash", "")},
        {"event_code", event},
        {"sequence", record.value("seq", 0)},
        {"original_time", record.value("ts", "")},
        {"correlation_uid", record.value("run_id", "")},
        {"log_name", "tierbox audit"},
        {"labels", labels}}},
      {"device", {{"hostname", record.value("host", "")}, {"type_id", 1}, {"type", "Server"}}},
  };
  // The requester (or, for control and approval records, who acted).
  const json& who = record.contains("by") && record["by"].is_object() ? record["by"] : record.value("user", json::object());
  out["actor"] = {{"user", user_object(who)}};
  if (decision) {
    const auto& d = (*decision)["decision"];
    out["actor"]["authorizations"] = json::array({{{"decision", (*decision).value("outcome", "")},
                                                   {"policy", {{"name", d.value("rule", "")}, {"desc", d.value("reason", "")}}}}});
  }
  json process = json::object();
  if (record.contains("argv") && record["argv"].is_array() && !record["argv"].empty()) {
    process["cmd_line"] = argv_text(record["argv"]);
    const auto first = argv_text(json::array({record["argv"][0]}));
    process["name"] = first.substr(first.rfind('/') + 1);
    process["file"] = {{"path", first}, {"name", first.substr(first.rfind('/') + 1)}, {"type_id", 1}};
  }
  if (record.contains("pid")) process["pid"] = record["pid"];
  if (record.contains("user")) process["user"] = user_object(record["user"]);
  out["process"] = process;
  if (event == "end" && record.contains("exit") && record["exit"].is_object() && record["exit"].value("code", json()).is_number())
    out["exit_code"] = record["exit"]["code"];
  json unmapped = json::object();
  for (const auto& [key, value] : record.items()) {
    bool mapped = false;
    for (const char* name : kMappedFields) mapped = mapped || key == name;
    if (!mapped) unmapped[key] = value;
  }
  if (record.contains("user")) unmapped["user"] = record["user"];  // sudo_user and the uid as a number
  if (record.contains("argv")) unmapped["argv"] = record["argv"];  // the exact bytes
  out["unmapped"] = unmapped;
  return out;
}

// CEF: '|' and '\' escaped in the header; '\', '=' and line breaks in values.
std::string cef_header(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}
std::string cef_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '=') out += '\\';
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

}  // namespace

std::vector<json> to_ocsf(const std::vector<json>& records, const std::string& product_version) {
  std::map<std::string, const json*> decisions;  // run_id -> its decision record
  for (const auto& record : records)
    if (record.value("event", "") == "decision") decisions[record.value("run_id", "")] = &record;
  std::vector<json> out;
  for (const auto& record : records) {
    const auto found = decisions.find(record.value("run_id", ""));
    out.push_back(ocsf_event(record, found == decisions.end() || record.value("run_id", "").empty() ? nullptr : found->second,
                             product_version));
  }
  return out;
}

std::vector<std::string> to_cef(const std::vector<json>& records, const std::string& product_version) {
  std::map<std::string, std::string> decision_of;  // run_id -> "allowed by rule (how)"
  for (const auto& record : records)
    if (record.value("event", "") == "decision")
      decision_of[record.value("run_id", "")] = record.value("outcome", "") + " " + record["decision"].value("how", "") + " " +
                                               record["decision"].value("rule", "");
  std::vector<std::string> lines;
  for (const auto& record : records) {
    const std::string event = record.value("event", "");
    const std::string outcome = record.value("outcome", record.value("result", ""));
    const int severity = severity_of(record) == 4 ? 8 : severity_of(record) == 3 ? 5 : 2;
    std::string line = "CEF:0|tierbox|tierbox|" + cef_header(product_version) + "|" + cef_header(event) + "|" +
                       cef_header("tierbox " + event + (outcome.empty() ? "" : " " + outcome)) + "|" + std::to_string(severity) + "|";
    std::vector<std::pair<std::string, std::string>> ext{
        {"rt", std::to_string(epoch_ms(record.value("ts", "")))},
        {"externalId", text_of(record.value("seq", json()))},
        {"outcome", outcome},
        {"dvchost", text_of(record.value("host", json()))},
    };
    const auto user = record.value("user", json::object());
    if (user.is_object()) {
      ext.emplace_back("suser", text_of(user.value("name", json())));
      ext.emplace_back("suid", text_of(user.value("uid", json())));
    }
    if (record.contains("argv")) ext.emplace_back("dproc", argv_text(record["argv"]));
    if (record.contains("pid")) ext.emplace_back("dpid", text_of(record["pid"]));
    ext.emplace_back("cs1Label", "tier");
    ext.emplace_back("cs1", text_of(record.value("tier", json())));
    ext.emplace_back("cs2Label", "run_id");
    ext.emplace_back("cs2", text_of(record.value("run_id", json())));
    const auto decision = decision_of.find(record.value("run_id", ""));
    ext.emplace_back("cs3Label", "decision");
    ext.emplace_back("cs3", decision == decision_of.end() ? "" : decision->second);
    ext.emplace_back("cs4Label", "simulation");
    ext.emplace_back("cs4", text_of(record.value("simulation", json())));
    ext.emplace_back("cs5Label", "hash");
    ext.emplace_back("cs5", text_of(record.value("hash", json())));
    ext.emplace_back("cs6Label", "record");
    ext.emplace_back("cs6", record.dump());  // every field, exactly
    std::string reason = text_of(record.value("reason", json()));
    if (reason.empty()) reason = text_of(record.value("error", json()));
    if (!reason.empty()) ext.emplace_back("msg", reason);
    for (std::size_t i = 0; i < ext.size(); ++i) line += (i ? " " : "") + ext[i].first + "=" + cef_value(ext[i].second);
    lines.push_back(line);
  }
  return lines;
}

std::string missing_ocsf_required(const json& event) {
  for (const char* field : {"activity_id", "category_uid", "class_uid", "type_uid", "time", "severity_id", "metadata", "actor",
                            "device", "process"})
    if (!event.contains(field) || event[field].is_null()) return field;
  for (const char* field : {"class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"})
    if (!event[field].is_number_integer()) return std::string(field) + " (an integer)";
  if (event["class_uid"] != 1007 || event["category_uid"] != 1) return "class_uid 1007 / category_uid 1";
  if (event["type_uid"].get<long long>() != 100700 + event["activity_id"].get<long long>()) return "type_uid (class_uid * 100 + activity_id)";
  const auto& metadata = event["metadata"];
  if (!metadata.contains("version") || !metadata["version"].is_string()) return "metadata.version";
  if (!metadata.contains("product") || !metadata["product"].is_object()) return "metadata.product";
  if (!metadata["product"].contains("vendor_name")) return "metadata.product.vendor_name";
  if (!event["device"].contains("type_id") || !event["device"]["type_id"].is_number_integer()) return "device.type_id";
  if (!event["actor"].is_object() || !event["process"].is_object()) return "actor and process (objects)";
  return "";
}

}  // namespace tierbox::audit
