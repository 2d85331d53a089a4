// A cache of exported seccomp filters, so a launch does not pay libseccomp's
// compile time (about 1.5 ms for the shipped tiers' filters on the reference
// machine, see docs/performance.md) when the same filters were built before.
//
//   STATE_DIR/cache/seccomp/<key>.bpf   key = SHA-256 of the plan's canonical
//                                       text, libseccomp's version, the
//                                       architecture and the file format
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

#include "policy/seccomp_rules.h"
#include "stages/seccomp.h"

namespace tierbox::stages {

struct LoadedSeccomp {
  CompiledSeccomp filters;
  bool from_cache = false;
  std::string cache_note;  // why the cache was not used or not written, for -v; "" when all went well
};

// The filters of plan: from cache_dir when a verified entry exists, else
// compiled (and stored). An empty cache_dir disables the cache.
LoadedSeccomp load_or_compile_seccomp(const policy::SeccompPlan& plan, const std::filesystem::path& cache_dir);

// The cache key of plan, in hex.
std::string seccomp_cache_key(const policy::SeccompPlan& plan);

}  // namespace tierbox::stages
