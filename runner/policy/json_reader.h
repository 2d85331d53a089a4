// Typed, path-aware access to one JSON object of a profile or config file.
// Every getter registers its key as known; finish() then rejects any key that
// no getter asked for, so a typo ("writeable") is an error, never ignored.
// Errors name the file, the JSON pointer of the field and what was expected.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader {
 public:
  // Throws ConfigError unless value is an object.
  JsonObjectReader(const nlohmann::json& value, std::string file, std::string pointer);

  [[nodiscard]] bool has(const std::string& key);
  std::optional<std::string> string(const std::string& key);
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::uint64_t> unsigned_integer(const std::string& key, std::uint64_t max);
  // A normalized absolute path: starts with '/', no "." or ".." components, no
  // empty components, no trailing '/' (except "/" itself).
  std::optional<std::string> absolute_path(const std::string& key);
  // "512M" or a number of bytes.
  std::optional<std::uint64_t> size(const std::string& key);
  // "30s", "10m" or a number of seconds.
  std::optional<std::chrono::milliseconds> duration(const std::string& key);
  // An octal mode given as a string ("1777") or a number (1023).
  std::optional<std::uint32_t> mode(const std::string& key);
  std::optional<std::vector<std::string>> string_array(const std::string& key);
  std::optional<std::map<std::string, std::string>> string_map(const std::string& key);
  // A nested object, or nullopt when absent.
  std::optional<JsonObjectReader> object(const std::string& key);
  // An array of anything; each element is read by the caller.
  const nlohmann::json* array(const std::string& key);
  // Any value, for fields that accept several forms; nullptr when absent.
  const nlohmann::json* raw(const std::string& key);

  // Rejects keys no getter asked for.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  [[nodiscard]] std::string pointer_of(const std::string& key) const;
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] const std::string& pointer() const { return pointer_; }

 private:
  const nlohmann::json* find(const std::string& key);

  const nlohmann::json& value_;
  std::string file_;
  std::string pointer_;
  std::set<std::string> known_;
};

// "/a/b" + "c" with JSON pointer escaping.
std::string json_pointer_append(const std::string& pointer, const std::string& key);
std::string json_pointer_append(const std::string& pointer, std::size_t index);

inline constexpr std::size_t kMaxJsonBytes = 1 << 20;
inline constexpr int kMaxJsonDepth = 32;

// Reads a JSON file; a syntax error names the file, line and column. Files
// over kMaxJsonBytes or nested deeper than kMaxJsonDepth are refused.
nlohmann::json read_json_file(const std::string& path, std::string* raw_bytes = nullptr);
// The same for text already in memory; path is only used in messages.
nlohmann::json parse_json_text(std::string text, const std::string& path, std::string* raw_bytes = nullptr);

// Whether path is a normalized absolute path (see JsonObjectReader::absolute_path).
bool is_normalized_absolute_path(const std::string& path);

}  // namespace tierbox::policy
