// `confirm`: the caller confirms at their terminal. The plan summary and the
// question go to the terminal and the answer is read from the terminal
// itself, never from stdin (which a pipeline or an agent feeds): a process
// without a controlling terminal cannot confirm, so the launch is refused.
// The direct runner asks at its own /dev/tty; the daemon at the terminal its
// caller passed (checked to be the caller's controlling terminal,
// daemon/caller_terminal.h). Same text, same answer rules, same timeout.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace tierbox::approval {

enum class ConfirmAnswer { yes, no, no_terminal, timed_out, cancelled };

// This process's controlling terminal, read and write; -1 when it has none.
UniqueFd open_controlling_terminal();

struct ConfirmWait {
  std::chrono::milliseconds timeout{0};
  // Readable: the question is withdrawn (the daemon's client went away).
  // -1: none.
  int cancel_fd = -1;
  // Whether the asker may read the terminal now. The kernel stops a
  // background job that reads its own terminal (SIGTTIN) until it is in the
  // foreground again; the daemon is in no session of the caller's, so it
  // asks instead, and leaves the input to the shell meanwhile. null: always.
  std::function<bool()> may_read;
};

// Shows lines and question on terminal_fd and reads one line from it: "y"
// or "yes" (any case) is yes, anything else no.
ConfirmAnswer confirm_at_terminal(int terminal_fd, const std::vector<std::string>& lines, const std::string& question,
                                  const ConfirmWait& wait);

}  // namespace tierbox::approval
