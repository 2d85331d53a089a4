#include "staged/renames.h"

#include <algorithm>
#include <map>

#include "common/errors.h"

namespace tierbox::staged {
namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string state_text(const EntryState& state) {
  return std::string(to_string(state.type)) + " " + std::to_string(state.mode) + " " + state.sha256 + " " + state.link;
}

// A top-level entry of one kind (its parent is not an entry of that kind)
// and the signature of what it stands for: its own state and, for a
// directory, every entry below it, which must all be of the same kind.
struct Candidate {
  std::size_t index = 0;
  std::string signature;
  std::vector<std::size_t> entries;
};

// by_path: the indexes of changes sorted by path, so that what is below a
// directory ("dir/" as a prefix) is one contiguous range of it.
std::vector<Candidate> candidates(const std::vector<Change>& changes, const std::vector<std::size_t>& by_path,
                                  ChangeKind kind) {
  std::map<std::string, std::size_t> of_kind;
  for (std::size_t i = 0; i < changes.size(); ++i)
    if (changes[i].kind == kind) of_kind.emplace(changes[i].path, i);
  std::vector<Candidate> found;
  for (const auto& [path, index] : of_kind) {
    const auto parent = parent_of(path);
    if (!parent.empty() && of_kind.count(parent)) continue;  // inside a bigger one
    const auto& state = kind == ChangeKind::deleted ? changes[index].before : changes[index].after;
    Candidate candidate{index, state_text(state), {index}};
    if (state.type == EntryType::directory) {
      const std::string prefix = path + "/";
      bool uniform = true;
      auto it = std::lower_bound(by_path.begin(), by_path.end(), prefix,
                                 [&](std::size_t i, const std::string& key) { return changes[i].path < key; });
      for (; it != by_path.end() && changes[*it].path.compare(0, prefix.size(), prefix) == 0; ++it) {
        const auto i = *it;
        if (changes[i].kind != kind) {
          uniform = false;  // something below is not moved whole (a refused FIFO, ...)
          break;
        }
        const auto& below = kind == ChangeKind::deleted ? changes[i].before : changes[i].after;
        candidate.signature += "\n" + changes[i].path.substr(prefix.size()) + " " + state_text(below);
        candidate.entries.push_back(i);
      }
      if (!uniform) continue;
    }
    found.push_back(std::move(candidate));
  }
  return found;
}

}  // namespace

std::vector<Rename> find_renames(const std::vector<Change>& changes) {
  std::vector<std::size_t> by_path(changes.size());
  for (std::size_t i = 0; i < by_path.size(); ++i) by_path[i] = i;
  std::stable_sort(by_path.begin(), by_path.end(),
                   [&](std::size_t a, std::size_t b) { return changes[a].path < changes[b].path; });
  const auto deleted = candidates(changes, by_path, ChangeKind::deleted);
  const auto added = candidates(changes, by_path, ChangeKind::added);
  std::map<std::string, std::pair<std::vector<const Candidate*>, std::vector<const Candidate*>>> by_signature;
  for (const auto& candidate : deleted) by_signature[candidate.signature].first.push_back(&candidate);
  for (const auto& candidate : added) by_signature[candidate.signature].second.push_back(&candidate);
  std::vector<Rename> renames;
  for (const auto& [signature, sides] : by_signature) {
    if (sides.first.size() != 1 || sides.second.size() != 1) continue;  // none, or ambiguous
    const auto& from = *sides.first.front();
    const auto& to = *sides.second.front();
    Rename rename{changes[from.index].path, changes[to.index].path,
                  changes[from.index].before.type == EntryType::directory, from.entries};
    rename.entries.insert(rename.entries.end(), to.entries.begin(), to.entries.end());
    renames.push_back(std::move(rename));
  }
  std::sort(renames.begin(), renames.end(), [](const Rename& a, const Rename& b) { return a.to < b.to; });
  return renames;
}

std::string rename_line(const Rename& rename) {
  if (!rename.directory) return "R  " + printable(rename.from) + " -> " + printable(rename.to);
  const auto below = rename.entries.size() / 2 - 1;
  return "R  " + printable(rename.from) + "/ -> " + printable(rename.to) + "/ (" + std::to_string(below) +
         " entries below, unchanged)";
}

}  // namespace tierbox::staged
