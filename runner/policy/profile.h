// A tier profile, as security teams write it in profiles/tiers/*.json, after
// its `extends` chain has been applied. Plain data; loaded and validated by
// profile_loader, turned into a LaunchPlan by the planner. docs/profiles.md
// documents every field. Each section with its own concern (environment,
// limits, network, ...) is declared and parsed in policy/sections/.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "policy/sections/commands.h"
#include "policy/sections/data_access.h"
#include "policy/sections/environment.h"
#include "policy/sections/landlock.h"
#include "policy/sections/limits.h"
#include "policy/sections/metadata.h"
#include "policy/sections/network.h"
#include "policy/sections/seccomp.h"
#include "policy/sections/secrets.h"
#include "policy/sections/widening.h"

namespace tierbox::policy {

enum class MountType { bind, tmpfs, symlink };

// One entry of `mounts`.
struct MountSpec {
  MountType type = MountType::bind;
  std::string source;          // bind: absolute host path
  std::string target;          // absolute path inside the sandbox
  bool writable = false;       // bind, tmpfs
  bool optional = false;       // bind: skipped when the source does not exist
  std::uint64_t size_bytes = 0;  // tmpfs
  std::uint32_t mode = 0755;     // tmpfs
  std::string link;            // symlink: what the link points to
  std::string origin;          // "file.json:/mounts/3", for messages
};

// The uid, gid and name the task runs as inside the sandbox.
struct TaskUserSpec {
  std::uint32_t uid = 1000;
  std::uint32_t gid = 1000;
  std::string name = "agent";
  std::string home = "/tmp";
};

struct WorkspaceSpec {
  std::string target = "/workspace";
  bool writable = false;
};


struct Profile {
  std::string name;                          // the tier name: the leaf file's stem
  std::filesystem::path file;                // the leaf file
  std::vector<std::filesystem::path> chain;  // base first, leaf last
  std::string sha256;                        // of the chain's bytes, hex
  std::string description;
  std::string hostname = "sandbox";
  std::uint64_t shm_size_bytes = 16ULL << 20;
  std::uint32_t pass_fds = 0;  // how many fds `run --pass-fd` may pass to the task
  TaskUserSpec user;
  std::vector<MountSpec> mounts;
  WorkspaceSpec workspace;
  EnvironmentSpec environment;
  LimitsSpec limits;
  NetworkSpec network;
  MetadataSpec metadata;        // owner and review dates (sections/metadata.h)
  DataAccessSpec data_access;   // max_data_class, protected_paths
  CommandsSpec commands;        // allowed_commands
  // Fields a base marked `final` (a child may only tighten them): field name
  // ("limits.wall_time", "mounts", ...) -> the file that marked it.
  std::map<std::string, std::string> final_fields;
  SeccompSpec seccomp;
  LandlockSetting landlock;
  SecretsSpec secrets;
  WideningSpec widening;        // what a caller may ask for beyond the tier (sections/widening.h)
};

const char* to_string(MountType type);

}  // namespace tierbox::policy
