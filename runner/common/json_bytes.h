// Bytes in JSON: file names, arguments and environment values on Linux are
// bytes, not text, and nlohmann's dump() throws type_error.316 on a string
// that is not UTF-8. These let a record, a result or a registry entry hold
// any bytes faithfully (docs/governance.md, "Bytes that are not UTF-8").
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace tierbox {

// A JSON value for bytes: a string when they are valid UTF-8; otherwise an
// array of the byte values (0-255), the form `journalctl -o json` uses for
// fields that are not UTF-8. Unambiguous (a string and an array never mix up)
// and lossless. docs/governance.md ("Bytes that are not UTF-8").
nlohmann::json json_bytes(std::string_view bytes);

// The bytes a json_bytes() value stands for (a string, or an array of byte
// values); nullopt for anything else.
std::optional<std::string> bytes_from_json(const nlohmann::json& value);

// value with every string that is not UTF-8 replaced by json_bytes(), and
// every such object key by its text with each bad byte written \xNN (keys
// cannot be arrays; tierbox's own keys are ASCII, so only a caller's names
// can reach this). The result always dumps.
nlohmann::json utf8_safe(nlohmann::json value);

}  // namespace tierbox
