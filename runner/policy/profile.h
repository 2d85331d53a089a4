// A tier profile, as security teams write it in profiles/tiers/*.json, after
// its `extends` chain has been applied. Plain data; loaded and validated by
// profile_loader, turned into a LaunchPlan by the planner. docs/profiles.md
// documents every field. Each section with its own concern (environment,
// limits, network, ...) is declared and parsed in policy/sections/, and
// registered with its fields in sections/registry.h.
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
#include "policy/sections/filesystem.h"
#include "policy/sections/identity.h"
#include "policy/sections/landlock.h"
#include "policy/sections/limits.h"
#include "policy/sections/metadata.h"
#include "policy/sections/network.h"
#include "policy/sections/seccomp.h"
#include "policy/sections/secrets.h"
#include "policy/sections/widening.h"

namespace tierbox::policy {

struct Profile {
  std::string name;                          // the tier name: the leaf file's stem
  std::filesystem::path file;                // the leaf file
  std::vector<std::filesystem::path> chain;  // base first, leaf last
  std::string sha256;                        // of the chain's bytes, hex
  std::string description;
  std::string hostname = "sandbox";
  std::uint64_t shm_size_bytes = 16ULL << 20;
  std::uint32_t pass_fds = 0;  // how many fds `run --pass-fd` may pass to the task
  // Who may use the tier (policy/tier_access.h): user and group names; both
  // empty lets everyone who can reach the runner use it.
  std::vector<std::string> allowed_users;
  std::vector<std::string> allowed_groups;
  TaskUserSpec user;
  RootfsSpec rootfs;             // host, or a store image (sections/filesystem.h)
  std::vector<MountSpec> mounts;
  WorkspaceSpec workspace;
  ContainerSpec container;      // the OCI runtime mode's containers only (sections/filesystem.h)
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

}  // namespace tierbox::policy
