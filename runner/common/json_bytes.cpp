#include "common/json_bytes.h"

#include "common/utf8.h"

namespace tierbox {

nlohmann::json json_bytes(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  auto values = nlohmann::json::array();
  for (const char c : bytes) values.push_back(static_cast<unsigned>(static_cast<unsigned char>(c)));
  return values;
}

std::optional<std::string> bytes_from_json(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array()) return std::nullopt;
  std::string bytes;
  for (const auto& item : value) {
    if (!item.is_number_unsigned() || item.get<std::uint64_t>() > 255) return std::nullopt;
    bytes += static_cast<char>(item.get<std::uint64_t>());
  }
  return bytes;
}

nlohmann::json utf8_safe(nlohmann::json value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    return is_valid_utf8(text) ? std::move(value) : json_bytes(text);
  }
  if (value.is_array()) {
    for (auto& item : value) item = utf8_safe(std::move(item));
    return value;
  }
  if (!value.is_object()) return value;
  auto safe = nlohmann::json::object();
  for (auto& [key, item] : value.items()) {
    const auto safe_key = is_valid_utf8(key) ? key : spell_out_invalid_utf8(key);
    safe[safe_key] = utf8_safe(std::move(item));
  }
  return safe;
}

}  // namespace tierbox
