#include "daemon/protocol.h"

#include <algorithm>
#include <csignal>

namespace tierbox::daemon {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& what) { throw ProtocolError(ErrorCode::malformed, what); }

// A field's reader: absent is nullopt, the wrong type names the field.
const json* field(const json& message, const char* key) {
  const auto found = message.find(key);
  return found == message.end() || found->is_null() ? nullptr : &*found;
}

std::optional<std::string> string_field(const json& message, const char* key) {
  const auto* value = field(message, key);
  if (!value) return std::nullopt;
  if (!value->is_string()) malformed(std::string("\"") + key + "\": expected a string");
  return value->get<std::string>();
}

bool bool_field(const json& message, const char* key) {
  const auto* value = field(message, key);
  if (!value) return false;
  if (!value->is_boolean()) malformed(std::string("\"") + key + "\": expected true or false");
  return value->get<bool>();
}

std::vector<std::string> string_list(const json& message, const char* key) {
  std::vector<std::string> list;
  const auto* value = field(message, key);
  if (!value) return list;
  if (!value->is_array()) malformed(std::string("\"") + key + "\": expected an array of strings");
  for (const auto& item : *value) {
    if (!item.is_string()) malformed(std::string("\"") + key + "\": expected an array of strings");
    list.push_back(item.get<std::string>());
  }
  return list;
}

std::vector<std::pair<std::string, std::string>> string_pairs(const json& message, const char* key) {
  std::vector<std::pair<std::string, std::string>> pairs;
  const auto* value = field(message, key);
  if (!value) return pairs;
  if (!value->is_object()) malformed(std::string("\"") + key + "\": expected an object of strings");
  for (const auto& [name, item] : value->items()) {
    if (!item.is_string()) malformed(std::string("\"") + key + "\": \"" + name + "\": expected a string");
    pairs.emplace_back(name, item.get<std::string>());
  }
  return pairs;
}

FdRole fd_role(const std::string& name) {
  if (name == "stdin") return FdRole::stdin_fd;
  if (name == "stdout") return FdRole::stdout_fd;
  if (name == "stderr") return FdRole::stderr_fd;
  if (name == "workspace") return FdRole::workspace;
  if (name == "bind") return FdRole::bind;
  if (name == "pass") return FdRole::pass;
  if (name == "tty") return FdRole::terminal;
  malformed("\"fds\": unknown fd \"" + name + "\" (expected stdin, stdout, stderr, workspace, bind, pass, tty)");
}

// "pass_fds": the numbers the "pass" fds take in the task, one each.
std::vector<int> pass_fd_numbers(const json& message) {
  std::vector<int> numbers;
  const auto* value = field(message, "pass_fds");
  if (!value) return numbers;
  if (!value->is_array()) malformed("\"pass_fds\": expected an array of fd numbers");
  for (const auto& item : *value) {
    // 0-2 are refused by the planner, with the fix; beyond the kernel's
    // largest possible fd number (fs.nr_open) no caller has an fd.
    if (!item.is_number_integer() || item.get<std::int64_t>() < 0 || item.get<std::int64_t>() >= (1 << 30))
      malformed("\"pass_fds\": expected an array of fd numbers");
    numbers.push_back(static_cast<int>(item.get<std::int64_t>()));
  }
  return numbers;
}

json with_header(const char* type) { return {{"tierbox", kProtocolVersion}, {"type", type}}; }

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::bad_version: return "bad_version";
    case ErrorCode::unknown_type: return "unknown_type";
    case ErrorCode::out_of_order: return "out_of_order";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::busy: return "busy";
    case ErrorCode::refused: return "refused";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

bool is_relayable_signal(int signal_number) {
  for (int relayed : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGKILL})
    if (signal_number == relayed) return true;
  return false;
}

std::size_t frame_length(const unsigned char (&header)[kFrameHeaderBytes]) {
  const std::size_t length = (std::size_t{header[0]} << 24) | (std::size_t{header[1]} << 16) |
                             (std::size_t{header[2]} << 8) | std::size_t{header[3]};
  if (length > kMaxMessageBytes)
    throw ProtocolError(ErrorCode::too_large, "a message of " + std::to_string(length) + " bytes; at most " +
                                                  std::to_string(kMaxMessageBytes) + " are read");
  if (length == 0) malformed("an empty message");
  return length;
}

std::string encode_frame(const json& message) {
  const auto body = message.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string frame;
  frame.reserve(kFrameHeaderBytes + body.size());
  const auto length = static_cast<std::uint32_t>(body.size());
  frame.push_back(static_cast<char>(length >> 24));
  frame.push_back(static_cast<char>(length >> 16));
  frame.push_back(static_cast<char>(length >> 8));
  frame.push_back(static_cast<char>(length));
  frame += body;
  return frame;
}

json parse_message(std::string_view body) {
  if (body.size() > kMaxMessageBytes) throw ProtocolError(ErrorCode::too_large, "a message over the size limit");
  // No exceptions from the parser (a deep nesting is a discarded value, not
  // a stack overflow: nlohmann's parser is iterative for depth).
  json message = json::parse(body.begin(), body.end(), nullptr, false);
  if (message.is_discarded()) malformed("not JSON");
  if (!message.is_object()) malformed("expected a JSON object");
  const auto* version = field(message, "tierbox");
  if (!version || !version->is_number_integer())
    throw ProtocolError(ErrorCode::bad_version, "\"tierbox\": expected the protocol version, 1");
  if (version->get<std::int64_t>() != kProtocolVersion)
    throw ProtocolError(ErrorCode::bad_version, "protocol version " + version->dump() + " is not supported (this daemon speaks 1)");
  const auto type = string_field(message, "type");
  if (!type) malformed("\"type\": missing");
  if (*type != "run" && *type != "staged" && *type != "signal" && *type != "exit" && *type != "error")
    throw ProtocolError(ErrorCode::unknown_type, "unknown message type \"" + *type + "\" (expected run, staged or signal)");
  return message;
}

std::string message_type(const json& message) { return message.at("type").get<std::string>(); }

std::string_view fd_role_name(FdRole role) {
  switch (role) {
    case FdRole::stdin_fd: return "stdin";
    case FdRole::stdout_fd: return "stdout";
    case FdRole::stderr_fd: return "stderr";
    case FdRole::workspace: return "workspace";
    case FdRole::bind: return "bind";
    case FdRole::pass: return "pass";
    case FdRole::terminal: return "tty";
  }
  return "?";
}

RunMessage parse_run(const json& message) {
  RunMessage run;
  run.tier = string_field(message, "tier").value_or("");
  run.argv = string_list(message, "argv");
  if (run.argv.empty()) malformed("\"argv\": expected the command and its arguments");
  for (const auto& word : run.argv)
    if (word.find('\0') != std::string::npos) malformed("\"argv\": a word with a NUL byte");
  for (const auto& name : string_list(message, "fds")) {
    const auto role = fd_role(name);
    for (auto seen : run.fds)
      if (seen == role && role != FdRole::bind && role != FdRole::pass) malformed("\"fds\": \"" + name + "\" named twice");
    run.fds.push_back(role);
  }
  if (run.fds.size() > kMaxMessageFds) malformed("\"fds\": more than " + std::to_string(kMaxMessageFds));
  if (const auto* binds = field(message, "binds")) {
    if (!binds->is_array()) malformed("\"binds\": expected an array of {source, target, writable}");
    for (const auto& item : *binds) {
      if (!item.is_object()) malformed("\"binds\": expected an array of {source, target, writable}");
      BindMessage bind;
      bind.source = string_field(item, "source").value_or("");
      const auto target = string_field(item, "target");
      if (!target || target->empty() || target->front() != '/' || target->find('\0') != std::string::npos)
        malformed("\"binds\": \"target\": expected an absolute path in the sandbox");
      bind.target = *target;
      bind.writable = bool_field(item, "writable");
      run.binds.push_back(std::move(bind));
    }
  }
  if (run.binds.size() > kMaxBinds) malformed("\"binds\": more than " + std::to_string(kMaxBinds));
  const auto bind_fds = static_cast<std::size_t>(std::count(run.fds.begin(), run.fds.end(), FdRole::bind));
  if (bind_fds != run.binds.size())
    malformed("\"binds\" has " + std::to_string(run.binds.size()) + " entries, \"fds\" names " +
              std::to_string(bind_fds) + " bind fds (one each)");
  run.pass_fds = pass_fd_numbers(message);
  if (run.pass_fds.size() > kMaxPassFds) malformed("\"pass_fds\": more than " + std::to_string(kMaxPassFds));
  const auto pass_fds = static_cast<std::size_t>(std::count(run.fds.begin(), run.fds.end(), FdRole::pass));
  if (pass_fds != run.pass_fds.size())
    malformed("\"pass_fds\" has " + std::to_string(run.pass_fds.size()) + " numbers, \"fds\" names " +
              std::to_string(pass_fds) + " pass fds (one each)");
  run.cwd = string_field(message, "cwd").value_or("/");
  for (auto& [name, value] : string_pairs(message, "env")) run.caller_env.emplace(std::move(name), std::move(value));
  run.env_overrides = string_pairs(message, "set_env");
  run.secrets = string_pairs(message, "secrets");
  run.timeout = string_field(message, "timeout");
  run.memory = string_field(message, "memory");
  run.pids = string_field(message, "pids");
  run.cpu = string_field(message, "cpu");
  run.allow_net = string_list(message, "allow_net");
  run.allow_expired_tier = bool_field(message, "allow_expired_tier");
  run.dry_run = bool_field(message, "dry_run");
  run.grant_name = string_field(message, "grant_name").value_or("");
  if (const auto* grant = field(message, "grant")) {
    if (!grant->is_object()) malformed("\"grant\": expected the grant's JSON object");
    if (run.dry_run) malformed("\"grant\": a dry run uses no grant");
    run.grant = *grant;
    if (run.grant_name.empty()) run.grant_name = "(sent by the client)";
  }
  run.verbose = bool_field(message, "verbose");
  return run;
}

StagedMessage parse_staged(const json& message) {
  StagedMessage staged;
  staged.action = string_field(message, "action").value_or("");
  if (staged.action != "changes" && staged.action != "apply" && staged.action != "rollback" && staged.action != "discard")
    malformed("\"action\": expected changes, apply, rollback or discard");
  staged.run_id = string_field(message, "run_id").value_or("");
  // A run id names a directory under the state directory: nothing that
  // could step out of it.
  if (staged.run_id.empty() || staged.run_id.size() > 128 ||
      staged.run_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != std::string::npos)
    malformed("\"run_id\": expected the run id `tierbox run` printed (letters, digits, - and _)");
  staged.paths = string_list(message, "paths");
  for (const auto& path : staged.paths)
    if (path.find('\0') != std::string::npos) malformed("\"paths\": a path with a NUL byte");
  staged.json = bool_field(message, "json");
  staged.diff = bool_field(message, "diff");
  staged.yes = bool_field(message, "yes");
  staged.grant_name = string_field(message, "grant_name").value_or("");
  if (const auto* grant = field(message, "grant")) {
    if (!grant->is_object()) malformed("\"grant\": expected the grant's JSON object");
    if (staged.action != "apply") malformed("\"grant\": only an apply takes a grant");
    staged.grant = *grant;
    if (staged.grant_name.empty()) staged.grant_name = "(sent by the client)";
  }
  for (const auto& name : string_list(message, "fds")) {
    const auto role = fd_role(name);
    if (role != FdRole::stdout_fd && role != FdRole::stderr_fd) malformed("\"fds\": a staged message carries stdout and stderr only");
    for (auto seen : staged.fds)
      if (seen == role) malformed("\"fds\": \"" + name + "\" named twice");
    staged.fds.push_back(role);
  }
  return staged;
}

SignalMessage parse_signal(const json& message) {
  const auto* value = field(message, "signal");
  if (!value || !value->is_number_integer()) malformed("\"signal\": expected a signal number");
  const auto number = value->get<std::int64_t>();
  if (number <= 0 || number > 64 || !is_relayable_signal(static_cast<int>(number)))
    malformed("\"signal\": " + std::to_string(number) + " is not one a client may relay");
  return SignalMessage{static_cast<int>(number)};
}

json staged_request(const StagedMessage& message) {
  auto request = with_header("staged");
  request["action"] = message.action;
  request["run_id"] = message.run_id;
  request["paths"] = message.paths;
  request["json"] = message.json;
  request["diff"] = message.diff;
  request["yes"] = message.yes;
  if (message.grant) {
    request["grant"] = *message.grant;
    request["grant_name"] = message.grant_name;
  }
  json roles = json::array();
  for (auto role : message.fds) roles.push_back(role == FdRole::stdout_fd ? "stdout" : "stderr");
  request["fds"] = roles;
  return request;
}

json exit_message(int exit_status, const std::string& error, bool runner_error, const json& result,
                  const std::vector<std::string>& warnings) {
  auto message = with_header("exit");
  message["warnings"] = warnings;
  message["exit_status"] = exit_status;
  message["error"] = error;
  message["runner_error"] = runner_error;
  message["result"] = result;
  return message;
}

json dry_run_exit_message(int exit_status) {
  auto message = exit_message(exit_status, "", false, json(), {});
  message["dry_run"] = true;
  return message;
}

json error_message(ErrorCode code, const std::string& message) {
  auto reply = with_header("error");
  reply["code"] = std::string(error_code_name(code));
  reply["message"] = message;
  return reply;
}

}  // namespace tierbox::daemon
