// File names, arguments and environment values on Linux are bytes, not text;
// JSON strings and messages must be UTF-8. These tell the two apart
// (common/json_bytes.h puts any bytes into JSON faithfully).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tierbox {

// Whether text is well-formed UTF-8 as RFC 3629 defines it: no overlong
// forms, no surrogates (U+D800-U+DFFF), nothing above U+10FFFF. This is what
// nlohmann's serializer accepts.
bool is_valid_utf8(std::string_view text);

// The length (1-4) of the well-formed UTF-8 sequence that starts at
// text[at], 0 when the byte there does not start one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

// The offset of the first byte that is not part of well-formed UTF-8, or
// nullopt when text is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// text with each byte that is not part of well-formed UTF-8 written \xNN:
// for messages, which must stay readable text (the faithful bytes are in a
// record's own fields, common/json_bytes.h).
std::string spell_out_invalid_utf8(std::string_view text);

}  // namespace tierbox
