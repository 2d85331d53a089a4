#include "common/errors.h"

#include "common/utf8.h"

#include <cstdio>
#include <cstring>

namespace tierbox {

SysError::SysError(int err, std::string call)
    : Error(call + ": " + errno_text(err), exit_code::runner_failed), err_(err) {}

std::string errno_name(int err) {
  if (const char* name = strerrorname_np(err)) return name;
  return "errno " + std::to_string(err);
}

std::string errno_text(int err) { return errno_name(err) + " (" + strerrordesc_np(err) + ")"; }

void throw_sys_error(std::string call) { throw SysError(errno, std::move(call)); }

std::string describe_flags(std::uint64_t flags,
                           std::initializer_list<std::pair<std::uint64_t, const char*>> names) {
  std::string text;
  for (const auto& [bit, name] : names) {
    if ((flags & bit) != bit || bit == 0) continue;
    if (!text.empty()) text += '|';
    text += name;
    flags &= ~bit;
  }
  if (flags != 0) {
    char rest[32];
    std::snprintf(rest, sizeof rest, "%s0x%llx", text.empty() ? "" : "|",
                  static_cast<unsigned long long>(flags));
    text += rest;
  }
  return text.empty() ? "0" : text;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const auto length = utf8_sequence_length(text, i);
    const char c = text[i];
    // A byte that is not UTF-8 (a file name may hold any) is spelled \xNN
    // like a control character, so that a message stays text an audit
    // record can hold as a string.
    if (length == 0 || static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
      out += escaped;
      ++i;
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out.append(text.substr(i, length));
    i += length;
  }
  return out + '"';
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    char escaped[8];
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(text[++i]));
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace tierbox
