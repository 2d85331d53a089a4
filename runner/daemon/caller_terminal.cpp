#include "daemon/caller_terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "common/errors.h"
#include "common/unique_fd.h"

namespace tierbox::daemon {
namespace {

[[noreturn]] void refuse(const std::string& why) {
  throw Error("\"tty\": " + why + " (the \"tty\" fd must be the caller's own controlling terminal, opened with "
              "O_RDWR; without one, send no \"tty\" fd)",
              exit_code::refused);
}

// The next space-separated field of text as a number; false at the end or
// when it is not one.
template <typename Number>
bool next_number(std::string_view& text, Number& value) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const auto end = text.find(' ');
  const auto word = text.substr(0, end);
  const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || stop != word.data() + word.size() || word.empty()) return false;
  text.remove_prefix(word.size());
  return true;
}

// /proc/PID/stat of pid; nullopt when it cannot be read (the process has
// gone).
std::optional<ProcessTerminal> read_process_terminal(pid_t pid) {
  const auto path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buffer[1024];
  ssize_t n;
  do n = ::read(fd.get(), buffer, sizeof buffer);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return std::nullopt;
  return parse_process_terminal(std::string_view(buffer, static_cast<std::size_t>(n)));
}

// With a pidfd (SO_PEERPIDFD): whether the process that connected is still
// alive, so that its pid, read in /proc, is not a recycled one. Without a
// pidfd (kernels before 6.5) the pid is trusted, as SO_PEERCRED gave it.
bool peer_alive(const PeerIdentity& peer) {
  if (!peer.pidfd) return true;
  pollfd exited{peer.pidfd.get(), POLLIN, 0};
  return ::poll(&exited, 1, 0) == 0;
}

}  // namespace

std::optional<ProcessTerminal> parse_process_terminal(std::string_view stat_line) {
  const auto close = stat_line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  auto rest = stat_line.substr(close + 1);
  // state ppid pgrp session tty_nr tpgid
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto state_end = rest.find(' ');
  if (state_end == std::string_view::npos || state_end == 0) return std::nullopt;
  rest.remove_prefix(state_end);
  long long parent = 0, group = 0, session = 0, tty = 0, foreground = 0;
  if (!next_number(rest, parent) || !next_number(rest, group) || !next_number(rest, session) || !next_number(rest, tty) ||
      !next_number(rest, foreground))
    return std::nullopt;
  if (tty < 0) return std::nullopt;
  ProcessTerminal terminal;
  // tty_nr is the kernel's new_encode_dev(), as a stat's st_rdev is.
  terminal.tty = static_cast<dev_t>(static_cast<unsigned long long>(tty) & 0xffffffffULL);
  terminal.process_group = static_cast<pid_t>(group);
  terminal.foreground_group = static_cast<pid_t>(foreground);
  return terminal;
}

void check_caller_terminal(int fd, const PeerIdentity& peer) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_sys_error("fcntl(\"tty\" fd, F_GETFL)");
  if ((flags & O_PATH) == O_PATH || (flags & O_ACCMODE) != O_RDWR)
    refuse("the fd is not open for reading and writing");
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_sys_error("fstat(\"tty\" fd)");
  if (!S_ISCHR(st.st_mode)) refuse("the fd is not a terminal (not a character device)");
  termios settings{};
  if (::tcgetattr(fd, &settings) != 0) refuse("the fd is not a terminal (TCGETS: " + errno_text(errno) + ")");
  // A pty's master answers TCGETS too, and TIOCGDEV on it names its slave:
  // what is written to a master is typed into the session, what is read
  // from it is the session's output. Never a master.
  unsigned int number = 0;
  if (st.st_rdev == ::makedev(5, 2) || ::ioctl(fd, TIOCGPTN, &number) == 0)
    refuse("the fd is a pty's master side, not a terminal a session has");
  const auto device = terminal_device_of(fd);
  if (!device) refuse("the terminal behind the fd cannot be told (TIOCGDEV: " + errno_text(errno) + ")");
  const auto process = read_process_terminal(peer.pid);
  if (!process || !peer_alive(peer)) refuse("the process that connected has gone");
  if (process->tty == 0) refuse("the caller has no controlling terminal");
  if (process->tty != *device)
    refuse("the fd is terminal " + std::to_string(::major(*device)) + ":" + std::to_string(::minor(*device)) +
           ", the caller's controlling terminal is " + std::to_string(::major(process->tty)) + ":" +
           std::to_string(::minor(process->tty)));
}

std::optional<dev_t> terminal_device_of(int fd) {
  // An fd of /dev/tty (what the client opens) is the device 5:0 to fstat;
  // the kernel's TIOCGDEV names the terminal it stands for, encoded as
  // /proc/PID/stat's tty_nr is (new_encode_dev).
  unsigned int device = 0;
  if (::ioctl(fd, TIOCGDEV, &device) != 0) return std::nullopt;
  return static_cast<dev_t>(device);
}

bool caller_in_foreground(const PeerIdentity& peer, dev_t terminal) noexcept {
  try {
    const auto process = read_process_terminal(peer.pid);
    return process && peer_alive(peer) && process->tty != 0 && process->tty == terminal &&
           process->foreground_group > 0 && process->foreground_group == process->process_group;
  } catch (...) {
    return false;
  }
}

}  // namespace tierbox::daemon
