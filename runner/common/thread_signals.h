// Signals of one thread, not of the process.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace tierbox {

// Blocks SIGPIPE on the calling thread (and the threads it starts later,
// which inherit its mask): a write to a pipe whose reader has gone then
// costs that write an EPIPE, not the whole process (SIGPIPE's default kills
// it). A blocked SIGPIPE from a write is directed at the writing thread,
// stays pending and goes with the thread; other threads, and tasks started
// from them, keep their default. Returns pthread_sigmask's result: 0, or
// the error number.
inline int block_sigpipe_on_this_thread() noexcept {
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  return ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
}

}  // namespace tierbox
