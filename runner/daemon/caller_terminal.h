// The terminal a caller passes with its run request (fd role "tty"), where a
// rule requiring `confirm` asks it. The daemon asks nowhere else (its own
// /dev/tty is whoever started it) and opens no path for the caller; it only
// accepts, as the caller's terminal, an fd the kernel says is one: a
// character device that is a terminal (TCGETS), not a pty's master side,
// opened for reading and writing, and (as TIOCGDEV names it) the
// controlling terminal of the very process that connected
// (its tty_nr in /proc/PID/stat, the process known from SO_PEERCRED and its
// pidfd). So a client cannot have the question shown, or the answer read,
// on a terminal that is not its caller's own.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string_view>

#include "daemon/peer.h"

namespace tierbox::daemon {

// What /proc/PID/stat says of a process's terminal.
struct ProcessTerminal {
  dev_t tty = 0;               // its controlling terminal (0: none), as st_rdev encodes it
  pid_t process_group = 0;
  pid_t foreground_group = -1;  // the terminal's foreground process group; -1: no terminal
};

// Pure: the fields of a /proc/PID/stat line; nullopt when it is not one.
// The command name (in parentheses) may hold spaces and ')': the fields are
// counted from the last ')'.
std::optional<ProcessTerminal> parse_process_terminal(std::string_view stat_line);

// The terminal an fd of a terminal stands for (for an fd of /dev/tty, the
// caller's real one), as tty_nr encodes it; nullopt when the kernel cannot
// say (errno set).
std::optional<dev_t> terminal_device_of(int fd);

// Throws Error (refused, 126) with one line naming the "tty" fd role when fd
// is not the peer's controlling terminal opened for reading and writing.
void check_caller_terminal(int fd, const PeerIdentity& peer);

// Whether the peer is in the foreground process group of terminal (its
// "tty" fd's terminal_device_of()) now: false when that is no longer its
// controlling terminal, or its process has gone.
bool caller_in_foreground(const PeerIdentity& peer, dev_t terminal) noexcept;

}  // namespace tierbox::daemon
