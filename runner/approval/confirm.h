// `confirm`: the caller confirms at their terminal. The plan summary and the
// question go to /dev/tty and the answer is read from /dev/tty itself, never
// from stdin (which a pipeline or an agent feeds): a process without a
// controlling terminal cannot confirm, so the launch is refused.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace tierbox::approval {

enum class ConfirmAnswer { yes, no, no_terminal, timed_out };

// Shows lines and question on the controlling terminal and reads one line:
// "y" or "yes" (any case) is yes, anything else no.
ConfirmAnswer confirm_at_terminal(const std::vector<std::string>& lines, const std::string& question,
                                  std::chrono::milliseconds timeout);

}  // namespace tierbox::approval
