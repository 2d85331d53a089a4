// Decides, before launch, what a tier's mounts would expose of the host's data
// (the data-class inventory) and what of its writable trees must be protected
// (protected_paths). Pure given a HostView: the real one reads the host, a
// test's reads a temp tree.
//
// - A mount whose source has a class above the tier's max_data_class is
//   refused: directly, through a symlink in the source, or because an
//   inventory path of a higher class lies inside it (a parent directory
//   bind). Rules anchored at a path (/etc/shadow, ~/.ssh) work this way.
// - Inside mounted trees, paths matched by `**/...` rules of a higher class
//   (a .env in the workspace) are masked with an empty read-only stand-in.
// - In writable trees, protected paths are made read-only (or hidden); a
//   literal one that does not exist yet gets a placeholder (created by the
//   parent, removed after the run) so the task cannot create it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/data_classes.h"
#include "policy/host_view.h"
#include "policy/profile.h"

namespace tierbox::policy {

// A mount that would expose data of a higher class: refuses the launch.
struct Exposure {
  std::string mount;  // "bind /data (host /srv/data)" or "--workspace /home/bob"
  std::string path;   // the host path of the higher class
  DataClass data_class = DataClass::secret;
  std::string rule;   // which inventory rule says so
  std::string how;    // "directly", "through a parent directory bind", ...
};

// An entry inside a tree that the sandbox gets a stand-in for.
struct TreeEntryAction {
  enum class Kind {
    hide,         // mount an empty read-only file or directory over it
    read_only,    // bind it onto itself, recursively read-only
    placeholder,  // missing: create an empty file or directory, then read_only
  };
  Kind kind = Kind::hide;
  std::vector<std::string> relative;  // components below the tree's root
  EntryType type = EntryType::file;   // of the entry (or the placeholder to create)
  std::string reason;                 // "secret (rule **/.env* ...)", "protected_paths .git/hooks/"
  std::string content;                // a placeholder file's content (ProtectedPath::placeholder)
};

struct TreeAssessment {
  std::string target;     // where the tree appears in the sandbox
  std::string host_path;  // its canonical host path
  bool writable = false;
  bool workspace = false;
  std::vector<TreeEntryAction> actions;
  std::vector<std::string> problems;  // each refuses the launch (symlink in a protected path, scan limit)
  std::uint64_t entries_scanned = 0;
  // The highest class the sandbox sees in this tree: its root's, or that of
  // an inventory path anchored inside it (at most the tier's max: what is
  // above is refused or masked). `**/` rules at or below the tier's max are
  // not looked for.
  DataClass data_class = DataClass::public_data;
};

struct DataAccessAssessment {
  std::vector<Exposure> exposures;
  // Mounts that would show tierbox's own state (the audit log, approvals,
  // grant keys): each refuses the launch.
  std::vector<std::string> forbidden;
  std::vector<TreeAssessment> trees;
  std::uint64_t entries_scanned = 0;
};

// workspace: the canonical host path of --workspace, if given.
// never_visible: canonical host paths no sandbox may ever see, whatever its
// class (tierbox's audit log and governance state): hidden with an empty
// stand-in inside a mounted tree, and a mount of one (or of something inside
// one) is refused.
DataAccessAssessment assess_data_access(const Profile& profile, const DataClassInventory& inventory,
                                        const std::optional<std::string>& workspace, const HostView& view,
                                        const std::vector<std::string>& never_visible = {});

// "refused: bind /data (host /srv/data) would expose /srv/data/.ssh (secret, rule ...) through a
// parent directory bind; tier 'x' may see at most internal (max_data_class)"
std::string describe(const Exposure& exposure, const std::string& tier, DataClass max);

}  // namespace tierbox::policy
