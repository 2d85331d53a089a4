// The error types of tierbox, each tied to the exit code the CLI returns.
//
// SysError names the failed call, its arguments (flags spelled out) and errno:
//   mount("/ws" -> "/sb/ws", MS_BIND|MS_REC): EPERM (Operation not permitted)
// Each layer may wrap it with the stage it was in (see with_stage()).
#pragma once

#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace tierbox {

// Exit codes, as in ../shared/ARCHITECTURE.md and docs/cli.md.
namespace exit_code {
inline constexpr int runner_failed = 125;    // bad profile, bad config, setup error
inline constexpr int refused = 126;          // the tier or an approval forbids it
inline constexpr int command_not_found = 127;
inline constexpr int timed_out = 124;        // like timeout(1)
}  // namespace exit_code

// Base of every error tierbox reports: one line, and the exit code it maps to.
class Error : public std::runtime_error {
 public:
  Error(std::string message, int exit_status)
      : std::runtime_error(std::move(message)), exit_status_(exit_status) {}
  [[nodiscard]] int exit_status() const noexcept { return exit_status_; }

 private:
  int exit_status_;
};

// A profile or configuration file is invalid: names the file, the JSON path of
// the field, and what was expected.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message) : Error(std::move(message), exit_code::runner_failed) {}
  ConfigError(const std::string& file, const std::string& json_path, const std::string& message)
      : Error(file + ": " + (json_path.empty() ? std::string("/") : json_path) + ": " + message,
              exit_code::runner_failed) {}
};

// The caller asked for something the tier does not allow.
class Refusal : public Error {
 public:
  explicit Refusal(std::string message) : Error("refused: " + std::move(message), exit_code::refused) {}
};

// A system call failed on the runner's side.
class SysError : public Error {
 public:
  SysError(int err, std::string call);
  [[nodiscard]] int err() const noexcept { return err_; }

 private:
  int err_;
};

// "EPERM", "ENOENT", ... (falls back to the number).
std::string errno_name(int err);
// "EPERM (Operation not permitted)"
std::string errno_text(int err);

// Throws SysError for the current errno.
[[noreturn]] void throw_sys_error(std::string call);

// Spells out a flag word, e.g. "MS_BIND|MS_REC|0x40000000" for unknown bits.
std::string describe_flags(std::uint64_t flags,
                           std::initializer_list<std::pair<std::uint64_t, const char*>> names);

// Quotes a path or argument for an error message.
std::string quote(std::string_view text);

// text with every terminal control character spelled out: C0 (ESC, CR, ...)
// and DEL as \xNN, UTF-8 C1 controls (U+0080-U+009F; U+009B starts a CSI
// sequence on some terminals) as \uNNNN. For what operators' terminals show
// of strings a task's caller chose (its command line above all): an escape
// sequence there could erase or rewrite the line an incident responder reads.
std::string printable(std::string_view text);

// Runs fn; a tierbox::Error escaping it is rethrown with "stage: " in front, so
// a message says where in the launch it happened.
template <typename Fn>
decltype(auto) with_stage(std::string_view stage, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const Error& error) {
    throw Error(std::string(stage) + ": " + error.what(), error.exit_status());
  }
}

}  // namespace tierbox
