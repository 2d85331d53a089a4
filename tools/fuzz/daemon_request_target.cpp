#include "daemon_request_target.h"

#include <string_view>

#include "daemon/protocol.h"

namespace tierbox::fuzz {
namespace {

void parse_body(std::string_view body) {
  try {
    const auto message = daemon::parse_message(body);
    const auto type = daemon::message_type(message);
    if (type == "run") (void)daemon::parse_run(message);
    if (type == "signal") (void)daemon::parse_signal(message);
    if (type == "staged") (void)daemon::parse_staged(message);
  } catch (const daemon::ProtocolError&) {
  }
}

}  // namespace

void daemon_request_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  parse_body(text);
  if (size < daemon::kFrameHeaderBytes) return;
  unsigned char header[daemon::kFrameHeaderBytes];
  for (std::size_t i = 0; i < daemon::kFrameHeaderBytes; ++i) header[i] = data[i];
  try {
    const auto length = daemon::frame_length(header);
    parse_body(text.substr(daemon::kFrameHeaderBytes, length));
  } catch (const daemon::ProtocolError&) {
  }
}

}  // namespace tierbox::fuzz
