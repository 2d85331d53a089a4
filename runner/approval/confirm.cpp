#include "approval/confirm.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "common/unique_fd.h"

namespace tierbox::approval {
namespace {

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

}  // namespace

ConfirmAnswer confirm_at_terminal(const std::vector<std::string>& lines, const std::string& question,
                                  std::chrono::milliseconds timeout) {
  // O_NOCTTY is moot for /dev/tty (it is the controlling terminal or ENXIO).
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!tty) return ConfirmAnswer::no_terminal;
  // Typed-ahead input (keys pressed before the question) never answers it.
  ::tcflush(tty.get(), TCIFLUSH);
  std::string text = "\n";
  for (const auto& line : lines) text += "  " + line + "\n";
  text += question + " [y/N] ";
  if (!write_text(tty.get(), text)) return ConfirmAnswer::no_terminal;
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (answer.find('\n') == std::string::npos && answer.size() < 64) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      write_text(tty.get(), "\n");
      return ConfirmAnswer::timed_out;
    }
    struct pollfd wait_for {tty.get(), POLLIN, 0};
    const int ready = ::poll(&wait_for, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[64];
    const ssize_t n = ::read(tty.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ConfirmAnswer::no;  // hung up: not a yes
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  answer = answer.substr(0, answer.find('\n'));
  answer.erase(std::remove_if(answer.begin(), answer.end(), [](unsigned char c) { return std::isspace(c); }), answer.end());
  std::transform(answer.begin(), answer.end(), answer.begin(), [](unsigned char c) { return std::tolower(c); });
  return answer == "y" || answer == "yes" ? ConfirmAnswer::yes : ConfirmAnswer::no;
}

}  // namespace tierbox::approval
