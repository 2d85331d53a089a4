// SHA-256 (libsodium) as lower-case hex, and base64 helpers for keys and
// signatures.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tierbox {

std::string sha256_hex(std::string_view bytes);
// SHA-256 of what is left to read from fd; name is for the error message.
std::string sha256_hex_of_fd(int fd, const std::string& name);
std::string to_base64(const unsigned char* data, std::size_t size);
// nullopt when text is not base64 (the original variant, with padding).
std::optional<std::vector<unsigned char>> from_base64(std::string_view text);
// Random bytes as hex (libsodium's randombytes: getrandom).
std::string random_hex(std::size_t bytes);

}  // namespace tierbox
