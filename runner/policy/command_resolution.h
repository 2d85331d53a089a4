// Resolves the task's command in the sandbox before launch, in the parent:
// the sandbox's root is built from host binds, so the host file behind any
// sandbox path is known. Used to enforce `allowed_commands` (and their sha256
// pins) and to make the child execute exactly the file that was checked.
// Pure given a HostView.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/host_view.h"
#include "policy/profile.h"

namespace tierbox::policy {

// A mount as path resolution sees it.
struct SandboxMount {
  enum class Kind { host, tmpfs, symlink };
  Kind kind = Kind::host;
  std::string target;
  std::string host;  // host: the canonical host path it shows
  std::string link;  // symlink: what it points to
};

// image_tree: an image tier's store tree (host_facts.h RootfsImageFacts),
// which shows at / under the tier's own mounts; "" for a host tier. Commands
// of an image tier resolve inside the image, never on the host.
std::vector<SandboxMount> sandbox_mounts(const Profile& profile, const std::optional<std::string>& workspace,
                                         const HostView& view, const std::string& image_tree = "");

struct SandboxPath {
  bool exists = false;
  std::string path;  // canonical in the sandbox
  std::string host;  // the host path behind it, "" when it is not on a host bind
  EntryType type = EntryType::missing;
  std::string error;  // "too many levels of symbolic links", ...
};

// Resolves an absolute sandbox path as the kernel would inside the sandbox.
SandboxPath resolve_sandbox_path(const std::string& path, bool follow_final, const std::vector<SandboxMount>& mounts,
                                 const HostView& view);

// A command as execve would find it: a path (relative to cwd) or a name
// searched in search_path. `candidate` is the file's sandbox path with its
// directories resolved but not its own name (so python3 and python3.11 stay
// different commands even when one links to the other).
struct ResolvedCommand {
  bool found = false;
  std::string candidate;  // "/usr/bin/python3"
  SandboxPath file;       // the candidate with every symlink followed
};

ResolvedCommand resolve_command(const std::string& command, const std::string& search_path, const std::string& cwd,
                                const std::vector<SandboxMount>& mounts, const HostView& view);

struct CommandAssessment {
  bool restricted = false;      // the tier has allowed_commands
  std::string exec_path;        // what the child executes ("" when not restricted)
  std::string refusal;          // non-empty: the launch is refused with refusal_status
  int refusal_status = 126;     // 127 when the command is not found
  std::string allowed_by;       // the entry's origin
  std::string verified_sha256;  // the pinned digest that matched
  std::string candidate;        // the requested command's candidate path ("" when not found)
  std::string file_host;        // the host file behind it ("" when it is on no host bind)
  // `tierbox redteam` only: the list refused it, the simulation admitted it
  // by its digest (admit_simulated_command below).
  bool admitted_for_simulation = false;
};

CommandAssessment assess_command(const Profile& profile, const std::string& command, const std::string& search_path,
                                 const std::string& cwd, const std::optional<std::string>& workspace,
                                 const HostView& view, const std::string& image_tree = "");

// A simulated run's (TaskRequest::simulation) only: a command the list
// refuses is admitted when its file's content has exactly sha256, the
// scenario program's digest. A command that is not found, or whose file
// differs by one byte, stays refused as before.
void admit_simulated_command(CommandAssessment& assessment, const std::string& sha256, const HostView& view);

}  // namespace tierbox::policy
