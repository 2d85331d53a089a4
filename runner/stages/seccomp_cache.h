// A cache of exported seccomp filters, so a launch does not pay libseccomp's
// compile time (about 1.5 ms for the shipped tiers' filters on the reference
// machine, see docs/performance.md) when the same filters were built before.
//
//   STATE_DIR/cache/seccomp/<key>.bpf   key = SHA-256 of the tier's seccomp
//                                       section (canonical text) and the
//                                       tierbox build that turns it into BPF
//
// The build is the executable's ELF build ID, which changes with any change
// to the groups, the rule generator or the libseccomp linked in: a hit then
// costs neither deriving the rules nor compiling them. Without a build ID
// the key is taken from the derived rules, libseccomp's version and the
// architecture instead (correct, a little slower).
//
// Directories are 0700 and files 0600, owned by the runner's user; a file is
// written to a temporary name and renamed, so a reader never sees half of
// one. A read is verified before use: owner and mode, size, magic, the key
// stored in the header, and a SHA-256 of the instructions. Anything wrong
// and the filters are compiled again (and the entry rewritten): the cache can
// make a launch faster, never different.
#pragma once

#include <filesystem>
#include <string>

#include "policy/sections/seccomp.h"
#include "stages/seccomp.h"

namespace tierbox::stages {

struct LoadedSeccomp {
  CompiledSeccomp filters;
  bool from_cache = false;
  std::string cache_note;  // why the cache was not used or not written, for -v; "" when all went well
};

// The filters of spec: from cache_dir when a verified entry exists, else
// derived, compiled and stored. An empty cache_dir disables the cache.
LoadedSeccomp load_or_compile_seccomp(const policy::SeccompSpec& spec, const std::filesystem::path& cache_dir);

// The cache key of spec, in hex. build_id: the ELF build ID of this
// executable by default (see above); "" to key on the derived rules.
std::string seccomp_cache_key(const policy::SeccompSpec& spec);
std::string seccomp_cache_key(const policy::SeccompSpec& spec, const std::string& build_id);

// This executable's ELF build ID in hex, "" when it has none.
const std::string& executable_build_id();

}  // namespace tierbox::stages
