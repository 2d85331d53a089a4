// The staged-run commands (changes, apply, rollback, discard) with their
// output, for both entry points: the CLI run by root (this process's
// stdout and stderr) and the daemon serving a caller who is not root (the
// caller's fds, passed with SCM_RIGHTS). One text either way.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "staged/operations.h"

namespace tierbox::staged {

struct StagedCommand {
  StagedAction action = StagedAction::see;
  std::string run_id;
  std::vector<std::string> paths;  // changes, apply: only these and below
  bool json = false;               // changes --json
  bool diff = false;               // changes --diff
  bool yes = false;                // apply --yes
  std::string grant_file;          // apply --grant: its name
  std::optional<nlohmann::json> grant_document;  // its document, when the caller's client read it
  std::function<void(std::size_t)> before_entry;  // tests: crash simulation
  int cancel_fd = -1;                             // see ApplyRequest
};

// Does the command and prints what it did; returns the exit status. Throws
// Error (Refusal: 126) as the operations do.
int run_staged_command(const StagedCommand& command, const OperationSettings& settings, std::FILE* out, std::FILE* err);

}  // namespace tierbox::staged
