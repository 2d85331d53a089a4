// What run_task loads from the config directories for every request (the
// tier with its `extends` chain, the data-class inventory, the approval
// matrix), kept by a long-lived entry point (the daemon) between requests
// and reused only while every file it came from is the same on disk.
//
// Each use first looks the files up again exactly as the loaders do (the
// tier's file in the search dirs, each base next to its extending file or in
// the search dirs), so a file added in an earlier directory, removed, or
// replaced takes effect on the next request; then compares each file's stat
// identity (device, inode, size, mtime and ctime in ns). A file whose mtime
// or ctime is less than kSettleTime before it was read is not reused: the
// kernel stamps with a coarse clock, so a second edit of the same size in
// the same tick would otherwise look unchanged (git's "racily clean" case).
// The cached value is what the loader returned for those bytes: loading is
// a pure function of the files (no clock, no host state), so a hit returns
// what a fresh load would. Thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "policy/approval_matrix.h"
#include "policy/data_classes.h"
#include "policy/profile.h"

namespace tierbox::service {

// A file as stat(2) sees it (following a link, as the loaders do).
struct FileStamp {
  std::filesystem::path path;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

class PolicyCache {
 public:
  static constexpr std::chrono::seconds kSettleTime{2};
  // settle: kSettleTime; tests pass 0 to reuse files written just now.
  explicit PolicyCache(std::chrono::nanoseconds settle = kSettleTime) : settle_(settle) {}

  policy::Profile tier(const std::string& name, const std::vector<std::filesystem::path>& dirs);
  policy::DataClassInventory data_classes(const std::vector<std::filesystem::path>& dirs);
  policy::ApprovalMatrix approval_matrix(const std::vector<std::filesystem::path>& dirs);

  struct Counts {
    std::uint64_t hits = 0;
    std::uint64_t loads = 0;
  };
  [[nodiscard]] Counts counts() const;

 private:
  template <typename Value>
  struct Entry {
    std::vector<FileStamp> files;  // as read, in lookup order
    Value value;
  };
  std::string key_of(const std::string& kind, const std::string& name, const std::vector<std::filesystem::path>& dirs) const;
  // A value loaded from one file (the inventory, the approval matrix):
  // found is the file the loader would read now, load reads it.
  template <typename Value, typename Load>
  Value one_file(std::map<std::string, Entry<Value>>& cache, const std::string& key,
                 const std::optional<std::filesystem::path>& found, Load load);

  const std::chrono::nanoseconds settle_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry<policy::Profile>> tiers_;
  std::map<std::string, Entry<policy::DataClassInventory>> inventories_;
  std::map<std::string, Entry<policy::ApprovalMatrix>> matrices_;
  Counts counts_;
};

// The stamp of path now; nullopt when it cannot be stat'ed.
std::optional<FileStamp> stamp_file(const std::filesystem::path& path);
// Whether a stamp taken now may stand for the file's bytes read now: its last
// change is at least settle before now.
bool settled(const FileStamp& stamp, std::chrono::nanoseconds settle);

}  // namespace tierbox::service
