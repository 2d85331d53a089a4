#include "policy/data_access.h"

#include <algorithm>

namespace tierbox::policy {
namespace {

using Kind = TreeEntryAction::Kind;

// An inventory path of a class above the tier's, where it really is.
struct SecretLocation {
  std::string lexical;  // as the rule matched it
  std::string real;     // after symlinks
  Classification classification;
};

struct TreeSource {
  std::string mount;      // description for messages
  std::string lexical;    // as the profile (or --workspace) names it
  std::string real;       // canonical
  std::string target;
  bool writable = false;
  bool workspace = false;
};

std::string rule_text(const Classification& classification) { return describe(classification); }

// Expands anchored rules (`*`, `?`, `~`) against the host like a shell glob:
// an lstat per literal component, a listing (each directory at most once per
// launch) per wildcard one.
class RuleExpander {
 public:
  explicit RuleExpander(const HostView& view) : view_(view) {}

  struct Match {
    std::string path;
    bool canonical;  // reached through directories only: realpath would return it unchanged
  };

  std::vector<Match> expand(const std::vector<std::string>& pattern) {
    std::vector<Match> out;
    walk(pattern, 0, "", true, out);
    return out;
  }

 private:
  using Listing = std::optional<std::vector<std::pair<std::string, EntryType>>>;

  const Listing& listing(const std::string& directory) {
    auto it = listings_.find(directory);
    if (it == listings_.end()) it = listings_.emplace(directory, view_.list_directory(directory.empty() ? "/" : directory)).first;
    return it->second;
  }

  EntryType entry_type(const std::string& path) {
    auto it = types_.find(path);
    if (it == types_.end()) it = types_.emplace(path, view_.entry_type(path)).first;
    return it->second;
  }

  void walk(const std::vector<std::string>& pattern, std::size_t index, const std::string& prefix, bool canonical,
            std::vector<Match>& out) {
    if (index == pattern.size()) {
      out.push_back({prefix.empty() ? "/" : prefix, canonical});
      return;
    }
    const bool last = index + 1 == pattern.size();
    const auto& part = pattern[index];
    if (part.find_first_of("*?") == std::string::npos) {
      // A literal component: one lstat, cheaper than listing a big directory.
      const auto next = prefix + "/" + part;
      const auto type = entry_type(next);
      if (type == EntryType::missing || (!last && type != EntryType::directory && type != EntryType::symlink)) return;
      return walk(pattern, index + 1, next, canonical && type != EntryType::symlink, out);
    }
    const auto& entries = listing(prefix);
    if (!entries) return;
    for (const auto& [name, type] : *entries) {
      if (!component_matches(pattern[index], name)) continue;
      if (!last && type != EntryType::directory && type != EntryType::symlink) continue;
      walk(pattern, index + 1, prefix + "/" + name, canonical && type != EntryType::symlink, out);
    }
  }

  const HostView& view_;
  std::map<std::string, Listing> listings_;
  std::map<std::string, EntryType> types_;
};

std::vector<SecretLocation> secret_locations(const DataClassifier& classifier, DataClass max, const HostView& view) {
  std::vector<SecretLocation> locations;
  RuleExpander expander(view);
  for (const auto& expanded : classifier.anchored()) {
    if (expanded.rule->data_class <= max) continue;
    for (const auto& match : expander.expand(expanded.components)) {
      // The class of the match itself: a deeper rule may declassify it.
      auto classification = classifier.classify(match.path);
      if (classification.data_class <= max) continue;
      // Reached through a symlink somewhere (a home may be one): where the
      // data really is, which is what a mount would expose.
      auto real = match.canonical ? std::optional<std::string>(match.path) : view.real_path(match.path);
      locations.push_back({match.path, real.value_or(match.path), classification});
    }
  }
  return locations;
}

std::vector<TreeSource> tree_sources(const Profile& profile, const std::optional<std::string>& workspace,
                                     const HostView& view) {
  std::vector<TreeSource> sources;
  for (const auto& mount : profile.mounts) {
    if (mount.type != MountType::bind) continue;
    auto real = view.real_path(mount.source);
    if (!real) continue;  // missing: optional, or open_tree fails at launch
    sources.push_back({"bind " + mount.target + " (host " + mount.source + ")", mount.source, *real, mount.target,
                       mount.writable, false});
  }
  if (workspace)
    sources.push_back({"--workspace " + *workspace, *workspace, *workspace, profile.workspace.target,
                       profile.workspace.writable, true});
  return sources;
}

void check_exposure(const TreeSource& source, const DataClassifier& classifier, DataClass max,
                    const std::vector<SecretLocation>& secrets, DataAccessAssessment& out) {
  for (const auto* path : {&source.lexical, &source.real}) {
    auto classification = classifier.classify(*path);
    if (classification.data_class > max) {
      const bool via_symlink = path == &source.real && source.real != source.lexical;
      out.exposures.push_back({source.mount, *path, classification.data_class, rule_text(classification),
                               via_symlink ? "through the symlink " + source.lexical + " -> " + source.real : "directly"});
      return;
    }
  }
  for (const auto& secret : secrets) {
    if (is_same_or_under(source.real, secret.real)) {
      out.exposures.push_back({source.mount, source.real, secret.classification.data_class, rule_text(secret.classification),
                               "directly (" + secret.lexical + " points to " + secret.real + ")"});
      return;
    }
    if (is_strictly_under(secret.real, source.real)) {
      std::string how = "through a parent directory bind";
      if (secret.real != secret.lexical) how += " (" + secret.lexical + " points to " + secret.real + ")";
      out.exposures.push_back({source.mount, secret.real, secret.classification.data_class,
                               rule_text(secret.classification), how});
      return;
    }
  }
}

// The inventory's rules as they apply below one tree, matched against an
// entry's path relative to the tree's root: anchored rules that cannot reach
// below the root are dropped up front, so a walk of a big workspace costs a
// few comparisons per entry rather than a full classification.
class TreeRules {
 public:
  TreeRules(const DataClassifier& classifier, std::vector<std::string> root) : root_(std::move(root)) {
    for (const auto& expanded : classifier.anchored()) {
      const auto& parts = expanded.components;
      if (parts.size() <= root_.size()) continue;
      bool under = true;
      for (std::size_t i = 0; i < root_.size() && under; ++i) under = component_matches(parts[i], root_[i]);
      if (under) anchored_.push_back({{parts.begin() + static_cast<std::ptrdiff_t>(root_.size()), parts.end()}, expanded.rule});
    }
    anywhere_ = classifier.anywhere();
  }

  // The rules matching exactly this entry (the highest class among them).
  [[nodiscard]] std::optional<Classification> exact(const std::vector<std::string>& relative) const {
    std::optional<Classification> best;
    const auto consider = [&](const DataClassRule* rule) {
      if (!best || rule->data_class > best->data_class)
        best = Classification{rule->data_class, rule, root_.size() + relative.size()};
    };
    for (const auto& [tail, rule] : anchored_)
      if (components_match(tail, relative)) consider(rule);
    for (const auto* rule : anywhere_)
      if (suffix_matches_below(rule->pattern.components, relative)) consider(rule);
    return best;
  }

  [[nodiscard]] bool scan_disabled(const std::vector<std::string>& relative) const {
    for (const auto& [tail, rule] : anchored_)
      if (!rule->scan && components_match(tail, relative)) return true;
    for (const auto* rule : anywhere_)
      if (!rule->scan && suffix_matches_below(rule->pattern.components, relative)) return true;
    return false;
  }

 private:
  // suffix_matches over root_ + relative, without building that path.
  [[nodiscard]] bool suffix_matches_below(const std::vector<std::string>& pattern,
                                          const std::vector<std::string>& relative) const {
    if (pattern.size() > root_.size() + relative.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const auto& part = pattern[pattern.size() - 1 - i];
      const auto& name = i < relative.size() ? relative[relative.size() - 1 - i]
                                             : root_[root_.size() - 1 - (i - relative.size())];
      if (!component_matches(part, name)) return false;
    }
    return true;
  }

  std::vector<std::string> root_;
  std::vector<std::pair<std::vector<std::string>, const DataClassRule*>> anchored_;
  std::vector<const DataClassRule*> anywhere_;
};

// A walk of one tree: masks entries of a higher class (`**/...` rules) and
// finds what matches the tree's glob protected paths.
class TreeScanner {
 public:
  TreeScanner(const TreeSource& source, const DataClassifier& classifier, DataClass max,
              std::vector<const ProtectedPath*> globs, bool scan_classes, TreeAssessment& tree)
      : source_(source), classifier_(classifier), max_(max), globs_(std::move(globs)), scan_classes_(scan_classes),
        tree_(tree), rules_(classifier, path_components(source.real)) {
    states_.push_back(classifier_.classify(source.real));
  }

  bool visit(const std::vector<std::string>& relative, EntryType type) {
    states_.resize(relative.size());  // the state of the parent is states_[size - 1]
    auto classification = rules_.exact(relative).value_or(states_.back());
    if (scan_classes_ && classification.data_class > max_) {
      tree_.actions.push_back({Kind::hide, relative, type == EntryType::directory ? EntryType::directory : EntryType::file,
                               "class " + describe(classification)});
      return false;  // all of it is hidden
    }
    // A unix socket or a named pipe is a door out of the sandbox whatever its
    // network mode: a host service listening in the workspace (a database's
    // or an agent's socket, git's fsmonitor daemon) would take the task's
    // connections, a host process reading or writing a pipe there would talk
    // with the task. Neither a read-only mount nor the task's uid stops it:
    // opening them is no write to the mount, and the workspace's idmap makes
    // the task their owner. Landlock cannot refuse a socket's connect() before
    // ABI 9 (LANDLOCK_ACCESS_FS_RESOLVE_UNIX). Endpoints the task makes itself
    // are not in the host's tree at launch, so they work.
    if (scan_classes_ && type == EntryType::endpoint) {
      tree_.actions.push_back({Kind::hide, relative, EntryType::file,
                               "a unix socket or named pipe of a process outside the sandbox"});
      return false;
    }
    match_globs(relative, type);
    if (type != EntryType::directory) return false;
    if (!scan_classes_ && !glob_may_match_below(relative)) return false;
    if (scan_classes_ && rules_.scan_disabled(relative) && !glob_may_match_below(relative)) return false;
    states_.push_back(classification);
    return true;
  }

 private:
  void match_globs(const std::vector<std::string>& relative, EntryType type) {
    for (const auto* glob : globs_) {
      const auto& pattern = glob->pattern.components;
      const bool matched = glob->pattern.anchor == PatternAnchor::anywhere ? suffix_matches(pattern, relative)
                                                                           : components_match(pattern, relative);
      if (!matched) continue;
      if (type == EntryType::symlink) {
        tree_.problems.push_back("protected path " + glob->pattern.text + " (" + glob->origin + "): " + source_.target + "/" +
                                 join_components(relative, relative.size(), false) +
                                 " is a symlink, so tierbox cannot tell what it protects (fix: replace the symlink)");
        continue;
      }
      const bool hide = glob->mode == ProtectionMode::hidden;
      tree_.actions.push_back({hide ? Kind::hide : Kind::read_only, relative,
                               type == EntryType::directory ? EntryType::directory : EntryType::file,
                               "protected_paths " + glob->pattern.text});
    }
  }

  bool glob_may_match_below(const std::vector<std::string>& relative) const {
    for (const auto* glob : globs_) {
      if (glob->pattern.anchor == PatternAnchor::anywhere) return true;
      const auto& pattern = glob->pattern.components;
      if (pattern.size() <= relative.size()) continue;
      bool prefix = true;
      for (std::size_t i = 0; i < relative.size() && prefix; ++i) prefix = component_matches(pattern[i], relative[i]);
      if (prefix) return true;
    }
    return false;
  }

  const TreeSource& source_;
  const DataClassifier& classifier_;
  DataClass max_;
  std::vector<const ProtectedPath*> globs_;
  bool scan_classes_;
  TreeAssessment& tree_;
  TreeRules rules_;
  std::vector<Classification> states_;  // class of each directory on the current path
};

void protect_literal(const TreeSource& source, const ProtectedPath& entry, const HostView& view, TreeAssessment& tree) {
  const auto& components = entry.pattern.components;
  auto state = view.inspect_beneath(source.real, components);
  const std::string shown = source.target + "/" + entry.pattern.text;
  if (!state.error.empty()) {
    tree.problems.push_back("protected path " + entry.pattern.text + " (" + entry.origin + "): " + state.error);
    return;
  }
  if (state.symlink_on_path || (state.found == components.size() && state.type == EntryType::symlink)) {
    std::vector<std::string> link(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(state.found));
    tree.problems.push_back("protected path " + entry.pattern.text + " (" + entry.origin + "): " + source.target + "/" +
                            join_components(link, link.size(), false) +
                            " is a symlink, so tierbox cannot tell what it protects (fix: replace the symlink with what it points to)");
    return;
  }
  const std::string reason = "protected_paths " + entry.pattern.text;
  if (state.not_directory_on_path) {
    // A file where a directory of the path would be (a worktree's .git
    // file): kept read-only, so the task cannot replace it with a directory.
    std::vector<std::string> blocker(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(state.found));
    if (state.type != EntryType::file) {
      tree.problems.push_back("protected path " + shown + ": " + join_components(blocker, blocker.size(), false) +
                              " is neither a file nor a directory (fix: remove it)");
      return;
    }
    tree.actions.push_back({Kind::read_only, blocker, EntryType::file, reason});
    return;
  }
  if (state.found == components.size()) {
    if (state.type != EntryType::file && state.type != EntryType::directory) {
      tree.problems.push_back("protected path " + shown + " is neither a file nor a directory (fix: remove it)");
      return;
    }
    const bool hide = entry.mode == ProtectionMode::hidden;
    tree.actions.push_back({hide ? Kind::hide : Kind::read_only, components, state.type, reason});
    return;
  }
  // The first missing component gets the placeholder: a directory when more
  // components follow it (or the entry ends in '/'), else a file.
  std::vector<std::string> missing(components.begin(), components.begin() + static_cast<std::ptrdiff_t>(state.found) + 1);
  const bool directory = missing.size() < components.size() || entry.pattern.directory;
  // The entry's own content only when the placeholder is the entry itself.
  tree.actions.push_back({Kind::placeholder, missing, directory ? EntryType::directory : EntryType::file, reason,
                          directory ? std::string() : entry.placeholder});
}

// Parents before children; one action per path; nothing below a hidden
// entry or a placeholder.
void normalize(TreeAssessment& tree) {
  auto& actions = tree.actions;
  // On one path a placeholder wins (it is empty anyway, and this run must
  // hold it so no other run removes it under the mount), then hide.
  const auto rank = [](Kind kind) { return kind == Kind::placeholder ? 0 : kind == Kind::hide ? 1 : 2; };
  std::stable_sort(actions.begin(), actions.end(), [&](const auto& a, const auto& b) {
    if (a.relative != b.relative) return a.relative < b.relative;
    return rank(a.kind) < rank(b.kind);
  });
  std::vector<TreeEntryAction> kept;
  for (auto& action : actions) {
    bool covered = std::any_of(kept.begin(), kept.end(), [&](const auto& earlier) {
      const bool prefix = earlier.relative.size() <= action.relative.size() &&
                          std::equal(earlier.relative.begin(), earlier.relative.end(), action.relative.begin());
      if (!prefix) return false;
      if (earlier.relative.size() == action.relative.size()) return true;  // same path: first (strongest) wins
      return earlier.kind != Kind::read_only;  // below a hidden entry or a placeholder nothing remains to protect
    });
    if (!covered) kept.push_back(std::move(action));
  }
  actions = std::move(kept);
}

// The highest class visible in a tree: its root's, raised by inventory paths
// anchored strictly inside it up to the tier's max (those above are refused
// or masked). Only rules that can lie below the root are expanded.
DataClass visible_class(const TreeSource& source, const DataClassifier& classifier, DataClass max,
                        RuleExpander& expander) {
  auto best = std::min(classifier.classify(source.real).data_class, max);
  const auto root = path_components(source.real);
  for (const auto& expanded : classifier.anchored()) {
    const auto rule_class = expanded.rule->data_class;
    if (rule_class <= best || rule_class > max || expanded.components.size() <= root.size()) continue;
    bool under = true;
    for (std::size_t i = 0; i < root.size() && under; ++i) under = component_matches(expanded.components[i], root[i]);
    if (!under) continue;
    for (const auto& match : expander.expand(expanded.components)) {
      const auto found = classifier.classify(match.path).data_class;
      if (found <= max && found > best) best = found;
    }
  }
  return best;
}

// tierbox's own state inside a tree is hidden (an empty stand-in), whatever
// the tier's classes; a tree inside it is refused.
void keep_out_never_visible(const TreeSource& source, const std::vector<std::string>& never_visible,
                            const HostView& view, TreeAssessment& tree, DataAccessAssessment& out) {
  for (const auto& path : never_visible) {
    if (is_same_or_under(source.real, path)) {
      out.forbidden.push_back(source.mount + " would expose " + path +
                              ", tierbox's own audit log or governance state, which no sandbox ever sees");
      continue;
    }
    if (!is_strictly_under(path, source.real)) continue;
    const auto type = view.entry_type(path);
    if (type == EntryType::missing) continue;
    auto all = path_components(path);
    std::vector<std::string> relative(all.begin() + static_cast<std::ptrdiff_t>(path_components(source.real).size()), all.end());
    tree.actions.push_back({Kind::hide, relative, type == EntryType::directory ? EntryType::directory : EntryType::file,
                            "tierbox's audit log or governance state"});
  }
}

void assess_tree(const TreeSource& source, const DataClassifier& classifier, DataClass max,
                 const Profile& profile, const HostView& view, std::uint64_t& budget, DataAccessAssessment& out,
                 RuleExpander& expander, const std::vector<std::string>& never_visible) {
  TreeAssessment tree;
  tree.data_class = visible_class(source, classifier, max, expander);
  keep_out_never_visible(source, never_visible, view, tree, out);
  tree.target = source.target;
  tree.host_path = source.real;
  tree.writable = source.writable;
  tree.workspace = source.workspace;
  if (view.entry_type(source.real) == EntryType::directory) {
    std::vector<const ProtectedPath*> globs;
    if (source.writable) {
      for (const auto& entry : profile.data_access.protected_paths) {
        if (entry.pattern.has_wildcards()) globs.push_back(&entry);
        else protect_literal(source, entry, view, tree);
      }
    }
    const bool scan_classes = classifier.has_anywhere_rule_above(max) &&
                              !classifier.scan_disabled(path_components(source.real));
    if (scan_classes || !globs.empty()) {
      TreeScanner scanner(source, classifier, max, globs, scan_classes, tree);
      WalkLimits limits;
      limits.max_entries = budget;
      limits.cross_mounts = !source.workspace;  // the workspace is bound without its submounts
      auto result = view.walk(source.real, limits,
                              [&](const auto& relative, EntryType type) { return scanner.visit(relative, type); });
      tree.entries_scanned = result.entries;
      budget -= std::min(budget, result.entries);
      if (result.limit_reached)
        tree.problems.push_back("scanning " + source.real + " for paths above class " + to_string(max) +
                                " stopped at the inventory's scan_limit of " + std::to_string(limits.max_entries) +
                                " entries (fix: mount a smaller tree, mark a directory \"scan\": false in the inventory, or raise scan_limit)");
      else if (!result.error.empty())
        tree.problems.push_back("scanning " + source.real + ": " + result.error);
    }
  }
  normalize(tree);
  out.entries_scanned += tree.entries_scanned;
  out.trees.push_back(std::move(tree));
}

}  // namespace

DataAccessAssessment assess_data_access(const Profile& profile, const DataClassInventory& inventory,
                                        const std::optional<std::string>& workspace, const HostView& view,
                                        const std::vector<std::string>& never_visible) {
  DataAccessAssessment out;
  const DataClass max = profile.data_access.max_data_class.value_or(DataClass::public_data);
  const DataClassifier classifier(inventory, view.home_directories());
  const auto sources = tree_sources(profile, workspace, view);
  const auto secrets = secret_locations(classifier, max, view);
  for (const auto& source : sources) check_exposure(source, classifier, max, secrets, out);
  if (!out.exposures.empty()) return out;  // refused: no need to look inside
  std::uint64_t budget = inventory.scan_limit;
  RuleExpander expander(view);
  for (const auto& source : sources) assess_tree(source, classifier, max, profile, view, budget, out, expander, never_visible);
  return out;
}

std::string describe(const Exposure& exposure, const std::string& tier, DataClass max) {
  return exposure.mount + " would expose " + exposure.path + ", class " + exposure.rule + ", " + exposure.how +
         "; tier '" + tier + "' may see at most " + to_string(max) + " (max_data_class)";
}

}  // namespace tierbox::policy
