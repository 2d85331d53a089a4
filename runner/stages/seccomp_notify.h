// Parent side of count_denials: the syscalls filter hands each errno denial
// to tierbox (SECCOMP_RET_USER_NOTIF); a thread of the runner answers it with
// the errno the rule names, exactly what the kernel would have answered, and
// counts it per syscall. It never lets a syscall through
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE is not used) and never reads the task's
// memory, so the usual user-notification races do not apply.
//
// A denied syscall waits for the answer (tens of microseconds; the first one
// of a run also waits for the thread to start). If the runner dies, the
// listener closes and the kernel answers ENOSYS; the sandbox dies with the
// runner anyway. Denials of the arguments filter (TIOCSTI, CLONE_NEWUSER,
// personality) and kill_process denials are not counted: one listener per
// filter chain, and a killed task leaves no answer to give (the kernel's
// audit log has those).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "policy/sections/seccomp.h"

namespace tierbox::stages {

class DenialCounter {
 public:
  // Starts answering notifications from listener for a filter built from spec.
  DenialCounter(UniqueFd listener, policy::SeccompSpec spec);
  // Stops the thread (stop() if not done yet).
  ~DenialCounter();
  DenialCounter(const DenialCounter&) = delete;
  DenialCounter& operator=(const DenialCounter&) = delete;

  // Stops answering and joins the thread; call once the sandbox has ended.
  void stop();
  // Syscall name -> how many times it was denied.
  [[nodiscard]] std::map<std::string, std::uint64_t> counts() const;

 private:
  void run();
  void answer(int listener);
  int errno_for(int nr);

  UniqueFd listener_;
  UniqueFd stop_;  // eventfd
  policy::SeccompSpec spec_;
  std::map<int, int> errno_by_syscall_;  // built on the first denial
  int default_errno_ = 0;
  bool table_built_ = false;
  mutable std::mutex mutex_;
  std::map<int, std::uint64_t> counts_;
  std::thread thread_;
};

}  // namespace tierbox::stages
