// libFuzzer entry point for the daemon's request parser (tools/fuzz/daemon_request.sh).
#include "daemon_request_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tierbox::fuzz::daemon_request_one_input(data, size);
  return 0;
}
