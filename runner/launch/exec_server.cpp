#include "launch/exec_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd_passing.h"
#include "launch/exec_protocol.h"
#include "launch/exec_start.h"
#include "launch/init.h"

namespace tierbox::launch {
namespace {

struct Running {
  pid_t pid = 0;
  int connection = -1;  // the client's: gets the exit status
};

// Static: init does not allocate.
alignas(16) char g_request[kExecRequestMax];
char* g_strings[kExecMaxStrings + 2];
alignas(16) char g_exec_stack[64 * 1024];
Running g_running[kExecMaxProcesses];

void send_reply(int connection, ExecReplyKind kind, int value, const char* detail = "") noexcept {
  ExecReply reply;
  reply.kind = kind;
  reply.value = value;
  std::strncpy(reply.detail, detail, sizeof reply.detail - 1);
  // MSG_NOSIGNAL: a client gone must not raise SIGPIPE, which init's
  // signalfd would take for a signal to forward to the task.
  (void)::send(connection, &reply, sizeof reply, MSG_NOSIGNAL);
}

struct NewProcess {
  const char* cwd;
  char** argv;
  char** envp;
  int stdio[3];
  int connection;
  std::uint64_t ignored_signals;
  bool terminal;
};

int exec_searching_path(char** argv, char** envp) noexcept {
  const char* file = argv[0];
  const char* path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
  for (char* const* entry = envp; *entry; ++entry)
    if (std::strncmp(*entry, "PATH=", 5) == 0) path = *entry + 5;
  return exec_searching(path, file, argv, envp);
}

// The new process, between clone and execve: its stdio, its own session,
// default signals, its working directory. Everything else it inherited.
int process_entry(void* argument) {
  const auto& start = *static_cast<const NewProcess*>(argument);
  for (int fd = 0; fd < 3; ++fd)
    if (::dup3(start.stdio[fd], fd, 0) < 0 && start.stdio[fd] != fd) {
      send_reply(start.connection, ExecReplyKind::failed, errno, "dup3 of the process's stdio");
      ::_exit(126);
    }
  ::setsid();
  // A pty the client made for this process: its controlling terminal, so
  // the terminal's ^C and ^Z reach it. Never a terminal the caller had
  // itself (no kExecTerminal then): injecting input there (TIOCSTI) would
  // reach outside the sandbox.
  if (start.terminal && ::ioctl(0, TIOCSCTTY, 0) != 0) {
    send_reply(start.connection, ExecReplyKind::failed, errno, "ioctl(TIOCSCTTY) of the process's terminal");
    ::_exit(126);
  }
  reset_signals(start.ignored_signals);
  if (::chdir(start.cwd) != 0) {
    send_reply(start.connection, ExecReplyKind::failed, errno, "chdir to the process's cwd");
    ::_exit(126);
  }
  // Every fd but 0-2 and the connection (close-on-exec: its EOF after
  // started means nothing; the exit status comes from init).
  ::syscall(SYS_close_range, 3, start.connection - 1, 0);
  ::syscall(SYS_close_range, start.connection + 1, ~0U, 0);
  const int err = exec_searching_path(start.argv, start.envp);
  send_reply(start.connection, ExecReplyKind::failed, err, "execve of the process's argv[0]");
  ::_exit(err == ENOENT ? 127 : 126);
}

void close_fds(const int* fds, std::size_t count) noexcept {
  for (std::size_t i = 0; i < count; ++i)
    if (fds[i] >= 0) ::close(fds[i]);
}

// One request from a new connection: parsed in place, the process started.
void serve(int connection, const ExecServer& server) noexcept {
  Running* slot = nullptr;
  for (auto& entry : g_running)
    if (entry.pid == 0) slot = &entry;
  int fds[3] = {-1, -1, -1};
  // The client sends its request right after connecting; one that does
  // not (stopped, stuck) must not hold init, which reaps and forwards
  // signals: 2 s at most, then the request is refused.
  struct pollfd request_ready {connection, POLLIN, 0};
  ssize_t received = -1;
  std::size_t fd_count = 0;
  // MSG_DONTWAIT: poll said it is there. A longer request than g_request or
  // more than three fds is refused (receive_with_fds: EMSGSIZE, the fds
  // that came already closed).
  if (::poll(&request_ready, 1, 2000) == 1)
    received = receive_with_fds(connection, g_request, sizeof g_request - 1, fds, 3, &fd_count, MSG_DONTWAIT);
  const auto refuse = [&](int err, const char* detail) {
    send_reply(connection, ExecReplyKind::failed, err, detail);
    close_fds(fds, 3);
    ::close(connection);
  };
  if (received < static_cast<ssize_t>(sizeof(ExecRequestHeader)) || fd_count != 3)
    return refuse(EINVAL, "a malformed exec request");
  ExecRequestHeader header;
  std::memcpy(&header, g_request, sizeof header);
  const std::size_t strings = static_cast<std::size_t>(header.argc) + header.envc + 1;
  if (header.magic != kExecMagic || header.argc == 0 || strings > kExecMaxStrings ||
      header.strings_size != static_cast<std::size_t>(received) - sizeof header)
    return refuse(EINVAL, "a malformed exec request");
  if (!slot) return refuse(EAGAIN, "too many exec processes in this container at once");
  // The strings, each NUL-terminated, all within the message.
  char* cursor = g_request + sizeof header;
  char* const end = g_request + received;
  *end = '\0';
  for (std::size_t i = 0; i < strings; ++i) {
    if (cursor >= end) return refuse(EINVAL, "a malformed exec request");
    g_strings[i] = cursor;
    cursor += std::strlen(cursor) + 1;
  }
  if (cursor != end) return refuse(EINVAL, "a malformed exec request");
  // g_strings: cwd, argv..., NULL here, env..., NULL.
  char* argv_and_env[kExecMaxStrings + 2];
  std::size_t at = 0;
  for (std::size_t i = 1; i <= header.argc; ++i) argv_and_env[at++] = g_strings[i];
  argv_and_env[at++] = nullptr;
  for (std::size_t i = 0; i < header.envc; ++i) argv_and_env[at++] = g_strings[1 + header.argc + i];
  argv_and_env[at] = nullptr;
  NewProcess start{g_strings[0], argv_and_env, argv_and_env + header.argc + 1, {fds[0], fds[1], fds[2]}, connection,
                   server.ignored_signals, (header.flags & kExecTerminal) != 0};
  // CLONE_VFORK: init goes on once the process has exec'd or failed, so the
  // stack and the strings it reads stay as they are until then.
  const pid_t pid = ::clone(process_entry, g_exec_stack + sizeof g_exec_stack, CLONE_VFORK | SIGCHLD, &start);
  close_fds(fds, 3);
  if (pid < 0) return refuse(errno, "clone of the new process");
  slot->pid = pid;
  slot->connection = connection;
  send_reply(connection, ExecReplyKind::started, pid);
}

// A process init reaped: its client gets the wait status.
bool report_exec_exit(pid_t pid, int status) noexcept {
  for (auto& entry : g_running) {
    if (entry.pid != pid) continue;
    if (entry.connection >= 0) {
      send_reply(entry.connection, ExecReplyKind::exited, status);
      ::close(entry.connection);
    }
    entry = Running{};
    return true;
  }
  return false;
}

// A message or the end of a client's connection: a signal for its process
// is delivered; the end (the client was killed) kills the process.
void serve_client(Running& entry) noexcept {
  ExecSignal message;
  const ssize_t n = ::recv(entry.connection, &message, sizeof message, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n == static_cast<ssize_t>(sizeof message) && message.magic == kExecSignalMagic && message.signal > 0 &&
      message.signal <= 64) {
    ::kill(entry.pid, message.signal);
    return;
  }
  if (n > 0) return;  // not a signal message: ignored
  ::kill(entry.pid, SIGKILL);  // reaped (and its slot freed) with SIGCHLD
  ::close(entry.connection);
  entry.connection = -1;
}

}  // namespace

[[noreturn]] void run_init_serving_exec(pid_t task, int status_fd, const ExecServer& server) noexcept {
  while (true) {
    struct pollfd waits[2 + kExecMaxProcesses] = {{server.signal_fd, POLLIN, 0}, {server.listener, POLLIN, 0}};
    std::size_t clients[kExecMaxProcesses];
    nfds_t count = 2;
    for (std::size_t i = 0; i < kExecMaxProcesses; ++i)
      if (g_running[i].pid > 0 && g_running[i].connection >= 0) {
        clients[count - 2] = i;
        waits[count++] = {g_running[i].connection, POLLIN, 0};
      }
    if (::poll(waits, count, -1) < 0) continue;
    for (nfds_t i = 2; i < count; ++i)
      if (waits[i].revents & (POLLIN | POLLHUP | POLLERR)) serve_client(g_running[clients[i - 2]]);
    if (waits[1].revents & POLLIN) {
      const int connection = ::accept4(server.listener, nullptr, nullptr, SOCK_CLOEXEC);
      // (fds 0-2 are init's stdio, which the new process's take the place of)
      if (connection >= 0 && connection < 3) ::close(connection);
      else if (connection >= 0) serve(connection, server);
    }
    if (!(waits[0].revents & POLLIN)) continue;
    struct signalfd_siginfo info {};
    if (::read(server.signal_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    const int signal_number = static_cast<int>(info.ssi_signo);
    if (signal_number != SIGCHLD) {
      ::kill(-task, signal_number);  // the task's process group, as run_init
      continue;
    }
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == task) finish_after_task(status_fd, status);
      (void)report_exec_exit(pid, status);  // else an orphan, reaped
    }
  }
}

}  // namespace tierbox::launch
