#include "stages/seccomp_notify.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/errors.h"
#include "policy/seccomp_rules.h"

namespace tierbox::stages {

DenialCounter::DenialCounter(UniqueFd listener, policy::SeccompSpec spec)
    : listener_(std::move(listener)), stop_(::eventfd(0, EFD_CLOEXEC)), spec_(std::move(spec)) {
  if (!stop_) throw_sys_error("eventfd(EFD_CLOEXEC)");
  thread_ = std::thread([this] { run(); });
}

DenialCounter::~DenialCounter() { stop(); }

void DenialCounter::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
    // Cannot happen for an eventfd below its maximum; the thread then ends
    // when the listener hangs up, which it does once the sandbox is gone.
  }
  thread_.join();
}

std::map<std::string, std::uint64_t> DenialCounter::counts() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> named;
  for (const auto& [nr, count] : counts_) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    named[name ? name : "syscall " + std::to_string(nr)] += count;
    std::free(name);
  }
  return named;
}

void DenialCounter::run() {
  while (true) {
    struct pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents & POLLIN) answer(listener_.get());
    // Hang-up: every task of the filter is gone. Stop: the run is over.
    if ((fds[0].revents & (POLLHUP | POLLERR)) || (fds[1].revents & POLLIN)) return;
  }
}

// The errno the filter's rule for nr names; the default action's otherwise.
// Built on the first denial from the same rules the filter was built from.
int DenialCounter::errno_for(int nr) {
  if (!table_built_) {
    const auto plan = policy::make_seccomp_plan(spec_);
    default_errno_ = plan.syscalls.default_action.error_number;
    for (const auto& rule : plan.syscalls.rules) {
      if (rule.action.kind != policy::SeccompAction::Kind::error || rule.match) continue;
      const int number = seccomp_syscall_resolve_name(rule.syscall.c_str());
      if (number >= 0) errno_by_syscall_[number] = rule.action.error_number;
    }
    table_built_ = true;
  }
  const auto it = errno_by_syscall_.find(nr);
  return it != errno_by_syscall_.end() ? it->second : default_errno_;
}

void DenialCounter::answer(int listener) {
  struct seccomp_notif request;
  std::memset(&request, 0, sizeof request);  // the kernel requires it zeroed
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) return;  // ENOENT: the task was interrupted
  struct seccomp_notif_resp response;
  std::memset(&response, 0, sizeof response);
  response.id = request.id;
  const int err = request.data.arch == AUDIT_ARCH_X86_64 ? errno_for(request.data.nr) : ENOSYS;
  response.error = -(err != 0 ? err : ENOSYS);
  // ENOENT: the task went away (or a signal interrupted the syscall) meanwhile.
  ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
  std::lock_guard lock(mutex_);
  ++counts_[request.data.nr];
}

}  // namespace tierbox::stages
