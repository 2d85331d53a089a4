#include "audit/group_commit.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/errors.h"

namespace tierbox::audit {

struct PendingSync::State {
  UniqueFd fd;
  std::string file;
  bool done = false;
  int err = 0;
};

namespace {

// One per process, never destroyed: a thread still syncing when the
// process exits must find it.
class Syncer {
 public:
  void enqueue(const std::shared_ptr<PendingSync::State>& state) {
    std::lock_guard lock(mutex_);
    if (!started_) {
      // Every signal blocked: the daemon and `tierbox run` take theirs on
      // their own threads (signalfd, the relay); a syncer must never.
      sigset_t all, previous;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &previous);
      std::thread([this] {
        // Its own name, not that of the thread that started it (a daemon
        // connection's "tbx-session", which the tests count).
        (void)::pthread_setname_np(::pthread_self(), "tbx-audit-sync");  // 14 bytes: within the 15 allowed
        loop();
      }).detach();
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      started_ = true;
    }
    queued_.push_back(state);
    work_.notify_one();
  }

  void wait(PendingSync::State& state) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return state.done; });
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_.wait(lock, [&] { return !queued_.empty(); });
      // Everything queued so far was written before this fsync begins:
      // one batch. What is queued meanwhile waits for the next.
      auto batch = std::move(queued_);
      queued_.clear();
      lock.unlock();
      // One fsync per descriptor: the first writes the inode's dirty pages
      // and commits the journal; the others find nothing left to do (on
      // ext4 a transaction already committed returns at once) but each
      // reports a writeback error to its own writer.
      for (auto& state : batch)
        if (::fsync(state->fd.get()) != 0) state->err = errno;
      lock.lock();
      for (auto& state : batch) {
        state->done = true;
        state->fd.reset();
      }
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::vector<std::shared_ptr<PendingSync::State>> queued_;
  bool started_ = false;
};

// The syncer of this process. A child forked from a process with a syncer
// (a test's concurrent appenders, `tierbox oci create`'s supervisor) has
// none of its threads and may hold a copy of its mutex in any state: it
// gets a fresh one (the copy is left alone, never used).
struct OwnedSyncer {
  pid_t pid;
  Syncer* syncer;
};
std::atomic<OwnedSyncer*> g_syncer{nullptr};

Syncer& syncer() {
  const pid_t self = ::getpid();
  auto* current = g_syncer.load(std::memory_order_acquire);
  if (current && current->pid == self) return *current->syncer;
  auto* fresh = new OwnedSyncer{self, new Syncer};
  if (g_syncer.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return *fresh->syncer;
  delete fresh->syncer;  // another thread of this process made one first
  delete fresh;
  return *current->syncer;
}

}  // namespace

void PendingSync::wait() {
  if (!state_) return;
  syncer().wait(*state_);
  const int err = state_->err;
  const auto file = state_->file;
  state_.reset();  // waited once; a second wait returns at once
  if (err != 0) throw SysError(err, "audit log: fsync(" + quote(file) + ")");
}

PendingSync request_sync(UniqueFd fd, std::string file) {
  auto state = std::make_shared<PendingSync::State>();
  state->fd = std::move(fd);
  state->file = std::move(file);
  syncer().enqueue(state);
  return PendingSync(std::move(state));
}

}  // namespace tierbox::audit
