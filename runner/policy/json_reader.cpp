#include "policy/json_reader.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "common/errors.h"
#include "common/files.h"
#include "common/utf8.h"
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

namespace {

// Where the text is, as an editor counts: line and column, both from 1.
std::string line_and_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// A char iterator over the text that tells how far the lexer has read, so
// that the SAX handler can say where a key is (nlohmann's events carry no
// position).
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* at, std::size_t* read) : at_(at), read_(read) {}
  reference operator*() const { return *at_; }
  CountingIterator& operator++() {
    ++at_;
    ++*read_;
    return *this;
  }
  CountingIterator operator++(int) {
    auto before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& other) const { return at_ == other.at_; }
  bool operator!=(const CountingIterator& other) const { return at_ != other.at_; }

 private:
  const char* at_;
  std::size_t* read_;
};

// Builds the document like nlohmann's own DOM parser, and on the way refuses
// what nlohmann accepts or reports badly: a key twice in one object (nlohmann
// keeps the last, so `"landlock":"required","landlock":"off"` would turn
// Landlock off), nesting deeper than kMaxJsonDepth, and syntax errors whose
// message would echo bytes that are not UTF-8 (an audit record of the
// refusal could then not be written).
class CheckedDocumentBuilder {
 public:
  using json = nlohmann::json;

  CheckedDocumentBuilder(json& root, std::string_view text, const std::size_t& read, const std::string& path)
      : dom_(root), text_(text), read_(read), path_(path) {}

  bool null() { return value([&] { return dom_.null(); }); }
  bool boolean(bool value_read) { return value([&] { return dom_.boolean(value_read); }); }
  bool number_integer(json::number_integer_t number) { return value([&] { return dom_.number_integer(number); }); }
  bool number_unsigned(json::number_unsigned_t number) { return value([&] { return dom_.number_unsigned(number); }); }
  bool number_float(json::number_float_t number, const std::string& text) {
    return value([&] { return dom_.number_float(number, text); });
  }
  bool string(std::string& text) {
    refuse_nul(text, value_pointer());
    return value([&] { return dom_.string(text); });
  }
  bool binary(json::binary_t& bytes) { return value([&] { return dom_.binary(bytes); }); }

  bool start_object(std::size_t size) { return open(true) && dom_.start_object(size); }
  bool start_array(std::size_t size) { return open(false) && dom_.start_array(size); }
  bool end_object() { return close() && dom_.end_object(); }
  bool end_array() { return close() && dom_.end_array(); }

  bool key(std::string& name) {
    auto& level = levels_.back();
    refuse_nul(name, level.pointer);
    const auto where = string_start();
    if (auto first = level.keys.find(name); first != level.keys.end())
      throw ConfigError(path_, json_pointer_append(level.pointer, name),
                        "duplicate key " + quoted(name) + " at " + line_and_column(text_, first->second) + " and " +
                            line_and_column(text_, where) + " (JSON keeps only one; fix: remove one of them)");
    level.keys.emplace(name, where);
    level.key = name;
    level.has_key = true;
    return dom_.key(name);
  }

  [[noreturn]] bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) {
    std::string reason = error.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax
    // error ... - invalid string: ...; last read: '...'": keep the reason only;
    // the last-read bytes may be the very bytes that are not UTF-8.
    if (auto at = reason.find("syntax error"); at != std::string::npos) reason = reason.substr(at);
    else if (auto after_id = reason.find("] "); after_id != std::string::npos) reason = reason.substr(after_id + 2);
    if (auto last_read = reason.find("; last read:"); last_read != std::string::npos) reason.resize(last_read);
    std::size_t offset = position == 0 ? 0 : position - 1;
    if (reason.find("ill-formed UTF-8") != std::string::npos) {
      // The lexer stops at the byte that broke the sequence (the '"' after a
      // lead byte, say); name the byte that began it.
      offset = first_invalid_utf8(text_.substr(0, std::min(offset + 1, text_.size()))).value_or(offset);
      const auto bad = offset < text_.size() ? static_cast<unsigned char>(text_[offset]) : 0;
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", bad);
      reason = std::string("byte ") + hex + " is not UTF-8 (JSON text must be UTF-8; fix: save the file as UTF-8)";
    }
    throw ConfigError(path_ + ":" + line_and_column(text_, offset) + ": invalid JSON at " + where_now() + ": " + reason);
  }

 private:
  struct Level {
    bool object = false;
    std::string pointer;
    std::size_t index = 0;
    std::string key;
    bool has_key = false;
    std::map<std::string, std::size_t> keys;  // name -> offset of its opening quote
  };

  static std::string quoted(const std::string& name) { return nlohmann::json(name).dump(); }

  // The JSON pointer of the value about to be read.
  [[nodiscard]] std::string value_pointer() const {
    if (levels_.empty()) return "";
    const auto& level = levels_.back();
    if (!level.object) return json_pointer_append(level.pointer, level.index);
    return level.has_key ? json_pointer_append(level.pointer, level.key) : level.pointer;
  }

  [[nodiscard]] std::string where_now() const {
    const auto pointer = value_pointer();
    if (!levels_.empty() && levels_.back().object && !levels_.back().has_key)
      return "a key of " + (pointer.empty() ? std::string("/") : pointer);
    return pointer.empty() ? std::string("/") : pointer;
  }

  // A path, an environment value or a symlink target is a C string to the
  // kernel: it would end at the first NUL, silently, so no document may hold one.
  void refuse_nul(const std::string& text, const std::string& pointer) const {
    if (text.find('\0') == std::string::npos) return;
    throw ConfigError(path_ + ":" + line_and_column(text_, string_start()) + ": " +
                      (pointer.empty() ? std::string("/") : pointer) +
                      ": contains a NUL character (\\u0000), at which the kernel would cut it (fix: remove it)");
  }

  // The offset of the opening quote of the string the lexer just read: it
  // has consumed the closing quote; the opening one is the nearest '"' before
  // it that is not escaped (preceded by an even number of backslashes).
  [[nodiscard]] std::size_t string_start() const {
    std::size_t at = read_ >= 2 ? read_ - 2 : 0;
    while (at > 0) {
      if (text_[at] == '"') {
        std::size_t backslashes = 0;
        while (at > backslashes && text_[at - 1 - backslashes] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return at;
      }
      --at;
    }
    return at;
  }

  template <typename Add>
  bool value(Add add) {
    const bool ok = add();
    after_value();
    return ok;
  }

  void after_value() {
    if (levels_.empty()) return;
    auto& level = levels_.back();
    if (level.object) level.has_key = false;
    else ++level.index;
  }

  bool open(bool object) {
    if (levels_.size() >= static_cast<std::size_t>(kMaxJsonDepth))
      throw ConfigError(path_ + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    Level level;
    level.object = object;
    level.pointer = value_pointer();
    levels_.push_back(std::move(level));
    return true;
  }

  bool close() {
    levels_.pop_back();
    after_value();
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::string_view text_;
  const std::size_t& read_;
  const std::string& path_;
  std::vector<Level> levels_;
};

}  // namespace

nlohmann::json read_json_file(const std::string& path, std::string* raw_bytes) {
  // More than kMaxJsonBytes is enough for parse_json_text to refuse it.
  auto text = read_regular_file(path, "", kMaxJsonBytes);
  return parse_json_text(std::move(text), path, raw_bytes);
}

nlohmann::json parse_json_text(std::string text, const std::string& path, std::string* raw_bytes) {
  // Bounds that no real profile comes near, so that hostile input cannot
  // exhaust memory or the stack (nlohmann's destructor recurses per level).
  if (text.size() > kMaxJsonBytes)
    throw ConfigError(path + ": file is larger than " + std::to_string(kMaxJsonBytes) + " bytes");
  nlohmann::json document;
  std::size_t read = 0;
  CheckedDocumentBuilder builder(document, text, read, path);
  const CountingIterator begin(text.data(), &read);
  const CountingIterator end(text.data() + text.size(), &read);
  nlohmann::json::sax_parse(begin, end, &builder);
  if (raw_bytes) *raw_bytes = std::move(text);
  return document;
}

}  // namespace tierbox::policy
