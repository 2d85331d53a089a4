// The OCI runtime's `exec` into a running container: the request a client
// (cli/oci_exec.cpp) sends to the sandbox's init over the container's exec
// socket (ROOT/ID/exec.sock, listened on by init: launch/exec_server.h), and
// init's replies. One SEQPACKET message each way per step; plain data, no
// pointers, read by init without allocating.
//
// Request: ExecRequestHeader, then argc + envc + 1 NUL-terminated strings
// (the working directory first, then argv, then "NAME=VALUE" each), with the
// new process's fds 0-2 as SCM_RIGHTS. Replies: started {pid in the
// sandbox}, then exited {wait status}; or failed {errno} when it could not be
// started (the connection then closes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tierbox::launch {

inline constexpr std::uint32_t kExecMagic = 0x74627865;  // "exbt"
inline constexpr std::size_t kExecRequestMax = 64 * 1024;
inline constexpr std::size_t kExecMaxStrings = 512;  // argv and env together
inline constexpr std::size_t kExecMaxProcesses = 32;  // at once per container

struct ExecRequestHeader {
  std::uint32_t magic = kExecMagic;
  std::uint32_t argc = 0;
  std::uint32_t envc = 0;
  std::uint32_t strings_size = 0;  // bytes of strings after the header
  std::uint32_t flags = 0;         // kExecTerminal
};

// fds 0-2 are a new pty's slave, made by the client for this process (never
// a terminal of the caller's): it becomes the process's controlling terminal.
inline constexpr std::uint32_t kExecTerminal = 1;

// After started, the client may send a signal for the process (the engine
// signalled the client: `kill --exec-id`, the terminal's ^C without a tty).
// The client's end closing before the process's exit (it was killed) kills
// the process: it lives as long as the one waiting for it.
inline constexpr std::uint32_t kExecSignalMagic = 0x74627373;  // "ssbt"
struct ExecSignal {
  std::uint32_t magic = kExecSignalMagic;
  std::int32_t signal = 0;
};

enum class ExecReplyKind : std::uint32_t { started = 1, exited = 2, failed = 3 };

struct ExecReply {
  ExecReplyKind kind = ExecReplyKind::failed;
  std::int32_t value = 0;  // started: pid in the sandbox; exited: wait status; failed: errno
  char detail[120] = {};   // failed: what could not be done
};

}  // namespace tierbox::launch
