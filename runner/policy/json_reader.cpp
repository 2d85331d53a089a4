#include "policy/json_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/unique_fd.h"
#include "common/units.h"

namespace tierbox::policy {
namespace {

const char* type_name(const nlohmann::json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_null()) return "null";
  return "an unknown value";
}

std::string got(const nlohmann::json& value) {
  if (value.is_string() || value.is_number() || value.is_boolean()) return ", got " + value.dump();
  return std::string(", got ") + type_name(value);
}

}  // namespace

std::string json_pointer_append(const std::string& pointer, const std::string& key) {
  std::string escaped;
  for (char c : key) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return pointer + "/" + escaped;
}

std::string json_pointer_append(const std::string& pointer, std::size_t index) {
  return pointer + "/" + std::to_string(index);
}

bool is_normalized_absolute_path(const std::string& path) {
  if (path.empty() || path.front() != '/') return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  if (path.find('\0') != std::string::npos) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& value, std::string file, std::string pointer)
    : value_(value), file_(std::move(file)), pointer_(std::move(pointer)) {
  if (!value_.is_object()) throw ConfigError(file_, pointer_, std::string("expected an object") + got(value_));
}

const nlohmann::json* JsonObjectReader::find(const std::string& key) {
  known_.insert(key);
  auto it = value_.find(key);
  return it == value_.end() ? nullptr : &*it;
}

bool JsonObjectReader::has(const std::string& key) { return find(key) != nullptr; }

std::string JsonObjectReader::pointer_of(const std::string& key) const {
  return json_pointer_append(pointer_, key);
}

void JsonObjectReader::fail(const std::string& key, const std::string& message) const {
  throw ConfigError(file_, pointer_of(key), message);
}

std::optional<std::string> JsonObjectReader::string(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (!value->is_string()) fail(key, "expected a string" + got(*value));
  return value->get<std::string>();
}

std::optional<bool> JsonObjectReader::boolean(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) fail(key, "expected true or false" + got(*value));
  return value->get<bool>();
}

std::optional<std::uint64_t> JsonObjectReader::unsigned_integer(const std::string& key, std::uint64_t max) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (!value->is_number_unsigned()) fail(key, "expected a non-negative integer" + got(*value));
  auto number = value->get<std::uint64_t>();
  if (number > max) fail(key, "expected at most " + std::to_string(max) + got(*value));
  return number;
}

std::optional<std::string> JsonObjectReader::absolute_path(const std::string& key) {
  auto path = string(key);
  if (!path) return std::nullopt;
  if (!is_normalized_absolute_path(*path))
    fail(key, "expected a normalized absolute path (starting with /, without ., .. or //), got " +
                  nlohmann::json(*path).dump());
  return path;
}

std::optional<std::uint64_t> JsonObjectReader::size(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (value->is_number_unsigned()) return value->get<std::uint64_t>();
  if (value->is_string()) {
    if (auto bytes = parse_size(value->get<std::string>())) return bytes;
  }
  fail(key, "expected a size such as \"512M\", \"2G\" or a number of bytes" + got(*value));
}

std::optional<std::chrono::milliseconds> JsonObjectReader::duration(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (value->is_number_unsigned()) return std::chrono::seconds(value->get<std::uint64_t>());
  if (value->is_string()) {
    if (auto duration = parse_duration(value->get<std::string>())) return duration;
  }
  fail(key, "expected a duration such as \"30s\", \"10m\", \"1h\" or a number of seconds" + got(*value));
}

std::optional<std::uint32_t> JsonObjectReader::mode(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (value->is_string()) {
    const auto text = value->get<std::string>();
    std::size_t used = 0;
    unsigned long mode = 0;
    try {
      mode = std::stoul(text, &used, 8);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == text.size() && !text.empty() && mode <= 07777) return static_cast<std::uint32_t>(mode);
  } else if (value->is_number_unsigned() && value->get<std::uint64_t>() <= 07777) {
    return static_cast<std::uint32_t>(value->get<std::uint64_t>());
  }
  fail(key, "expected an octal mode string such as \"0755\" or \"1777\"" + got(*value));
}

std::optional<std::vector<std::string>> JsonObjectReader::string_array(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (!value->is_array()) fail(key, "expected an array of strings" + got(*value));
  std::vector<std::string> items;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const auto& item = (*value)[i];
    if (!item.is_string())
      throw ConfigError(file_, json_pointer_append(pointer_of(key), i), "expected a string" + got(item));
    items.push_back(item.get<std::string>());
  }
  return items;
}

std::optional<std::map<std::string, std::string>> JsonObjectReader::string_map(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  if (!value->is_object()) fail(key, "expected an object of strings" + got(*value));
  std::map<std::string, std::string> items;
  for (const auto& [name, item] : value->items()) {
    if (!item.is_string())
      throw ConfigError(file_, json_pointer_append(pointer_of(key), name), "expected a string" + got(item));
    items.emplace(name, item.get<std::string>());
  }
  return items;
}

std::optional<JsonObjectReader> JsonObjectReader::object(const std::string& key) {
  const auto* value = find(key);
  if (!value) return std::nullopt;
  return JsonObjectReader(*value, file_, pointer_of(key));
}

const nlohmann::json* JsonObjectReader::array(const std::string& key) {
  const auto* value = find(key);
  if (value && !value->is_array()) fail(key, std::string("expected an array") + got(*value));
  return value;
}

const nlohmann::json* JsonObjectReader::raw(const std::string& key) { return find(key); }

void JsonObjectReader::finish() const {
  for (const auto& [key, unused] : value_.items()) {
    if (known_.count(key)) continue;
    std::string expected;
    for (const auto& name : known_) expected += (expected.empty() ? "" : ", ") + name;
    throw ConfigError(file_, pointer_of(key), "unknown key (expected one of: " + expected + ")");
  }
}

nlohmann::json read_json_file(const std::string& path, std::string* raw_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw ConfigError(path + ": cannot read: " + errno_text(errno));
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(path + ": cannot read: " + errno_text(errno));
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxJsonBytes) break;  // parse_json_text refuses it
  }
  return parse_json_text(std::move(text), path, raw_bytes);
}

nlohmann::json parse_json_text(std::string text, const std::string& path, std::string* raw_bytes) {
  // Bounds that no real profile comes near, so that hostile input cannot
  // exhaust memory or the stack (nlohmann's destructor recurses per level).
  if (text.size() > kMaxJsonBytes)
    throw ConfigError(path + ": file is larger than " + std::to_string(kMaxJsonBytes) + " bytes");
  const auto limit_depth = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxJsonDepth)
      throw ConfigError(path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    auto json = nlohmann::json::parse(text, limit_depth);
    if (raw_bytes) *raw_bytes = std::move(text);
    return json;
  } catch (const nlohmann::json::parse_error& error) {
    // Turn the byte offset into line:column, which an editor can jump to.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < error.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string reason = error.what();
    if (auto pos = reason.find("syntax error"); pos != std::string::npos) reason = reason.substr(pos);
    throw ConfigError(path + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": invalid JSON: " + reason);
  } catch (const nlohmann::json::exception& error) {
    // Not a syntax error but still the file's fault: a number too large for
    // a double ("1e999", found by the fuzzer) is out_of_range.406.
    std::string reason = error.what();
    if (auto pos = reason.find("] "); pos != std::string::npos) reason = reason.substr(pos + 2);
    throw ConfigError(path + ": invalid JSON: " + reason);
  }
}

}  // namespace tierbox::policy
