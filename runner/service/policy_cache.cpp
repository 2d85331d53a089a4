#include "service/policy_cache.h"

#include <sys/stat.h>
#include <time.h>

#include "common/logging.h"
#include "policy/profile_loader.h"

namespace tierbox::service {
namespace {

namespace fs = std::filesystem;

std::int64_t nanoseconds(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000LL + time.tv_nsec;
}

// The chain load_tier would read for name, looked up as read_chain does,
// with the base names taken from the cached chain (its files unchanged, so
// are their `extends`): the tier's file in dirs; each base next to the file
// extending it, else in dirs. nullopt: the lookup differs from cached.
bool same_tier_files(const std::string& name, const std::vector<fs::path>& dirs, const std::vector<FileStamp>& cached) {
  // cached: leaf first, then each base.
  if (cached.empty()) return false;
  auto current = policy::find_tier_file(name, dirs);
  for (std::size_t i = 0; i < cached.size(); ++i) {
    if (!current || *current != cached[i].path) return false;
    const auto now = stamp_file(*current);
    if (!now || !(*now == cached[i])) return false;
    if (i + 1 == cached.size()) break;
    const auto base = cached[i + 1].path.stem().string();
    const auto sibling = current->parent_path() / (base + ".json");
    current = policy::config_file_exists(sibling) ? std::optional<fs::path>(sibling) : policy::find_tier_file(base, dirs);
  }
  return true;
}

bool same_file(const std::optional<fs::path>& found, const std::vector<FileStamp>& cached) {
  if (!found || cached.size() != 1 || *found != cached[0].path) return false;
  const auto now = stamp_file(*found);
  return now && *now == cached[0];
}

// Stamps taken before the read; kept only when each is settled and still
// the same after it (nothing changed the file while it was read).
std::optional<std::vector<FileStamp>> stamps_to_keep(const std::vector<FileStamp>& before, std::chrono::nanoseconds settle) {
  for (const auto& stamp : before) {
    const auto after = stamp_file(stamp.path);
    if (!after || !(*after == stamp) || !settled(stamp, settle)) return std::nullopt;
  }
  return before;
}

}  // namespace

std::optional<FileStamp> stamp_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{path, st.st_dev, st.st_ino, st.st_size, nanoseconds(st.st_mtim), nanoseconds(st.st_ctim)};
}

bool settled(const FileStamp& stamp, std::chrono::nanoseconds settle) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const auto latest = std::max(stamp.mtime_ns, stamp.ctime_ns);
  return nanoseconds(now) - latest >= settle.count();
}

std::string PolicyCache::key_of(const std::string& kind, const std::string& name, const std::vector<fs::path>& dirs) const {
  std::string key = kind + '\0' + name;
  for (const auto& dir : dirs) key += '\0' + dir.string();
  return key;
}

policy::Profile PolicyCache::tier(const std::string& name, const std::vector<fs::path>& dirs) {
  const auto key = key_of("tier", name, dirs);
  {
    std::lock_guard lock(mutex_);
    if (auto it = tiers_.find(key); it != tiers_.end() && same_tier_files(name, dirs, it->second.files)) {
      ++counts_.hits;
      return it->second.value;
    }
  }
  // Stamped before the read, checked after it (stamps_to_keep).
  std::vector<FileStamp> before;
  if (const auto leaf = policy::find_tier_file(name, dirs))
    if (const auto stamp = stamp_file(*leaf)) before.push_back(*stamp);
  auto profile = policy::load_tier(name, dirs);
  // The chain as loaded (base first): stamps of the bases too, leaf first.
  std::vector<FileStamp> files;
  bool complete = !before.empty() && before[0].path == profile.chain.back();
  if (complete) files.push_back(before[0]);
  for (auto it = profile.chain.rbegin() + 1; complete && it != profile.chain.rend(); ++it) {
    const auto stamp = stamp_file(*it);
    if (!stamp) complete = false;
    else files.push_back(*stamp);
  }
  std::lock_guard lock(mutex_);
  ++counts_.loads;
  if (complete)
    if (auto kept = stamps_to_keep(files, settle_)) tiers_[key] = Entry<policy::Profile>{std::move(*kept), profile};
  return profile;
}

template <typename Value, typename Load>
Value PolicyCache::one_file(std::map<std::string, Entry<Value>>& cache, const std::string& key,
                            const std::optional<fs::path>& found, Load load) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache.find(key); it != cache.end() && same_file(found, it->second.files)) {
      ++counts_.hits;
      return it->second.value;
    }
  }
  const auto stamp = found ? stamp_file(*found) : std::nullopt;
  auto value = load();
  std::lock_guard lock(mutex_);
  ++counts_.loads;
  if (stamp)
    if (auto kept = stamps_to_keep({*stamp}, settle_)) cache[key] = Entry<Value>{std::move(*kept), value};
  return value;
}

policy::DataClassInventory PolicyCache::data_classes(const std::vector<fs::path>& dirs) {
  return one_file(inventories_, key_of("data-classes", "", dirs), policy::find_data_classes_file(dirs),
                  [&] { return policy::load_data_classes(dirs); });
}

policy::ApprovalMatrix PolicyCache::approval_matrix(const std::vector<fs::path>& dirs) {
  return one_file(matrices_, key_of("approvals", "", dirs), policy::find_approval_matrix_file(dirs),
                  [&] { return policy::load_approval_matrix(dirs); });
}

PolicyCache::Counts PolicyCache::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace tierbox::service
