#include "approval/confirm.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace tierbox::approval {
namespace {

// How often the daemon looks again whether its caller is back in the
// foreground of its terminal.
constexpr std::chrono::milliseconds kForegroundRecheck{100};

bool write_text(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

bool is_yes(std::string answer) {
  answer = answer.substr(0, answer.find('\n'));
  answer.erase(std::remove_if(answer.begin(), answer.end(), [](unsigned char c) { return std::isspace(c); }), answer.end());
  std::transform(answer.begin(), answer.end(), answer.begin(), [](unsigned char c) { return std::tolower(c); });
  return answer == "y" || answer == "yes";
}

}  // namespace

UniqueFd open_controlling_terminal() {
  // O_NOCTTY is moot for /dev/tty (it is the controlling terminal or ENXIO).
  return UniqueFd(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
}

ConfirmAnswer confirm_at_terminal(int terminal_fd, const std::vector<std::string>& lines, const std::string& question,
                                  const ConfirmWait& wait) {
  if (terminal_fd < 0) return ConfirmAnswer::no_terminal;
  // Typed-ahead input (keys pressed before the question) never answers it.
  ::tcflush(terminal_fd, TCIFLUSH);
  std::string text = "\n";
  for (const auto& line : lines) text += "  " + line + "\n";
  text += question + " [y/N] ";
  if (!write_text(terminal_fd, text)) return ConfirmAnswer::no_terminal;
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + wait.timeout;
  while (answer.find('\n') == std::string::npos && answer.size() < 64) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      write_text(terminal_fd, "\n");
      return ConfirmAnswer::timed_out;
    }
    // In the background: the terminal's input is the shell's; only the
    // cancel fd and the clock are watched until the caller is back.
    const bool may_read = !wait.may_read || wait.may_read();
    if (!may_read) left = std::min(left, kForegroundRecheck);
    struct pollfd ready[2] = {{may_read ? terminal_fd : -1, POLLIN, 0}, {wait.cancel_fd, POLLIN, 0}};
    const int count = ::poll(ready, 2, static_cast<int>(left.count()));
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) continue;
    if (ready[1].revents & POLLIN) {
      write_text(terminal_fd, "\n");
      return ConfirmAnswer::cancelled;
    }
    if (ready[0].revents == 0) continue;
    char buffer[64];
    const ssize_t n = ::read(terminal_fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return ConfirmAnswer::no;  // hung up: not a yes
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  return is_yes(answer) ? ConfirmAnswer::yes : ConfirmAnswer::no;
}

}  // namespace tierbox::approval
