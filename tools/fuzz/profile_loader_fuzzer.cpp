// libFuzzer entry point for the profile loader (tools/fuzz/profile_loader.sh).
#include "profile_loader_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tierbox::fuzz::profile_loader_one_input(data, size);
  return 0;
}
