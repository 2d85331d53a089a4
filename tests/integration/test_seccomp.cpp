// The seccomp filter seen from inside real sandboxes: every always-blocked
// syscall is attempted for real by the probe (`blocked`, in
// tests/probe/probe_syscalls.cpp), in each shipped tier, and must fail as the
// tier configures it; controls show which attempts work without the filter.
// And a real workload still runs.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "integration/harness.h"
#include "integration/rootfs_store.h"
#include "policy/host_facts.h"

using namespace tierbox::testing;
using nlohmann::json;

namespace {

std::string test_profile(const std::string& name) { return std::string(kSourceDir) + "/tests/profiles/" + name; }

// The probe's report, run under a pseudo-terminal (TIOCSTI needs a tty on fd 0).
json blocked_report(const std::vector<std::string>& run_args, const std::string& probe = "./probe") {
  ProbeWorkspace workspace;
  std::vector<std::string> argv = {kTierbox, "run"};
  argv.insert(argv.end(), run_args.begin(), run_args.end());
  for (const auto& arg : {std::string("--workspace"), workspace.str(), std::string("--"), probe, std::string("blocked")})
    argv.push_back(arg);
  auto result = run_in_pty(argv);
  BOOST_REQUIRE_MESSAGE(result.status == 0, "tierbox exited " << result.status << ": " << result.out);
  // The pty merges stderr: an older kernel's Landlock warnings come first.
  result.out = without_landlock_warnings(result.out);
  const auto start = result.out.find('{');
  BOOST_REQUIRE_MESSAGE(start != std::string::npos, "no report: " << result.out);
  return json::parse(result.out.substr(start));
}

// Every attempt of the probe, with what the filter must answer when the deny
// action is errno:EPERM.
const std::map<std::string, std::string> kExpectedWithEperm = {
    {"unshare_user", "EPERM"},          {"clone_user", "EPERM"},
    {"clone3_user", "ENOSYS"},          {"mount_tmpfs", "EPERM"},
    {"umount", "EPERM"},                {"pivot_root", "EPERM"},
    {"open_tree", "EPERM"},             {"move_mount", "EPERM"},
    {"fsopen", "EPERM"},                {"fsmount", "EPERM"},
    {"kexec_load", "EPERM"},            {"init_module", "EPERM"},
    {"finit_module", "EPERM"},          {"delete_module", "EPERM"},
    {"bpf_prog_load", "EPERM"},         {"perf_event_open", "EPERM"},
    {"keyctl", "EPERM"},                {"add_key", "EPERM"},
    {"request_key", "EPERM"},           {"ptrace_traceme", "EPERM"},
    {"ptrace_attach_sibling", "EPERM"}, {"process_vm_readv", "EPERM"},
    {"userfaultfd", "EPERM"},           {"io_uring_setup", "EPERM"},
    {"tiocsti", "EPERM"},               {"tiocsti_high_bits", "EPERM"},
    {"tioclinux", "EPERM"},             {"tiocsetd", "EPERM"},             {"personality_no_randomize", "EPERM"},
    {"int80", "killed:SIGSYS"},         {"x32", "killed:SIGSYS"},
    {"socket_vsock", "EAFNOSUPPORT"},   {"socket_vsock_high_bits", "EAFNOSUPPORT"},
    {"socket_packet", "EAFNOSUPPORT"},  {"socket_unix", "ok"},
    {"socket_inet", "ok"},              {"socket_netlink", "ok"},
    {"chmod_setuid", "EPERM"},          {"fchmodat_setgid", "EPERM"},
    {"open_create_setuid", "EPERM"},    {"openat2", "ENOSYS"},
    {"chmod_plain", "ok"},
};

void expect_report(const json& report, const std::map<std::string, std::string>& expected, const std::string& tier) {
  BOOST_TEST(report["status_seccomp"] == "2", tier << ": the task is not in seccomp filter mode");
  for (const auto& [attempt, outcome] : expected) {
    BOOST_REQUIRE_MESSAGE(report.contains(attempt), tier << ": the probe did not attempt " << attempt);
    BOOST_TEST(report[attempt] == outcome, tier << ": " << attempt << " gave " << report[attempt] << ", expected " << outcome);
  }
  BOOST_TEST(report.size() == expected.size() + 1, tier << ": attempts not checked: " << report.dump());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(seccomp_sandbox)

BOOST_AUTO_TEST_CASE(every_always_blocked_syscall_fails_in_each_shipped_tier) {
  for (const char* tier : {"untrusted", "readonly", "workspace-write"})
    expect_report(blocked_report({"--tier", tier}), kExpectedWithEperm, tier);
}

// The same attempts in the image tier (sealed on image:minimal, which has no
// libc: the static probe).
BOOST_AUTO_TEST_CASE(every_always_blocked_syscall_fails_in_the_image_tier) {
  // sealed takes Landlock ABI 1 and up, so it launches on 6.1 (ABI 2) too.
  expect_report(blocked_report({"--config-dir", minimal_store().config.str(), "--tier", "sealed"}, "./probe-static"),
                kExpectedWithEperm, "sealed");
}

BOOST_AUTO_TEST_CASE(with_kill_process_the_filter_itself_stops_every_attempt) {
  // EPERM could also come from a missing capability; SIGSYS only from seccomp.
  auto expected = kExpectedWithEperm;
  for (auto& [attempt, outcome] : expected)
    if (outcome == "EPERM" || outcome == "EAFNOSUPPORT") outcome = "killed:SIGSYS";
  expect_report(blocked_report({"--profile", test_profile("seccomp-kill.json")}), expected, "seccomp-kill");
}

BOOST_AUTO_TEST_CASE(controls_the_attempts_work_without_the_filter) {
  // Outside any sandbox (as root; the probe skips what would change the host).
  auto host = json::parse(run_process({kProbe, "blocked", "unshare_user", "clone_user", "ptrace_traceme",
                                       "ptrace_attach_sibling", "process_vm_readv", "keyctl", "add_key",
                                       "io_uring_setup", "userfaultfd", "personality_no_randomize", "int80",
                                       "perf_event_open", "bpf_prog_load", "socket_packet", "socket_vsock",
                                       "chmod_setuid", "fchmodat_setgid", "open_create_setuid", "openat2", "tiocsetd"})
                              .out);
  for (const auto& [attempt, outcome] : host.items())
    if (attempt != "status_seccomp" && attempt != "socket_vsock")
      BOOST_TEST(outcome == "ok", "outside a sandbox " << attempt << " gave " << outcome);
  // AF_VSOCK exists where the kernel has a vsock transport (a VM with a
  // virtio-vsock device, this one has /dev/vsock); elsewhere the kernel
  // itself answers EAFNOSUPPORT and only the kill_process test above shows
  // the filter at work.
  const bool host_has_vsock = host["socket_vsock"] == "ok";
  if (!host_has_vsock)
    BOOST_TEST_MESSAGE("skipped: the vsock control, the host kernel refuses AF_VSOCK itself ("
                       << host["socket_vsock"] << ")");

  // Inside a sandbox whose tier opts in to every item: the kernel decides.
  auto inside = blocked_report({"--profile", test_profile("seccomp-opt-in-all.json")});
  BOOST_TEST(inside["status_seccomp"] == "2");  // the rest of the filter still applies
  for (const char* attempt : {"ptrace_traceme", "ptrace_attach_sibling", "process_vm_readv", "keyctl", "add_key",
                              "io_uring_setup", "userfaultfd", "personality_no_randomize", "int80", "chmod_setuid",
                              "fchmodat_setgid", "open_create_setuid", "openat2", "tiocsetd"})
    BOOST_TEST(inside[attempt] == "ok", "with the opt-in " << attempt << " gave " << inside[attempt]);
  if (host_has_vsock) BOOST_TEST(inside["socket_vsock"] == "ok", "with the opt-in socket_vsock gave " << inside["socket_vsock"]);
  BOOST_TEST(inside["socket_packet"] == "EPERM");  // no CAP_NET_RAW: the kernel's answer, not the filter's
  // Capabilities are gone whatever the filter says (ENOSYS: a kernel built
  // without modules or kexec).
  for (const char* attempt : {"mount_tmpfs", "umount", "pivot_root", "open_tree", "fsopen", "init_module", "kexec_load"})
    BOOST_TEST((inside[attempt] == "EPERM" || inside[attempt] == "ENOSYS"), attempt << " gave " << inside[attempt]);
}

BOOST_AUTO_TEST_CASE(nested_user_namespaces_are_stopped_by_both_layers) {
  // The filter (EPERM) and, below it, user.max_user_namespaces = 0 inside
  // the sandbox (ENOSPC), which holds even when a tier opts in.
  auto filtered = blocked_report({"--tier", "untrusted"});
  BOOST_TEST(filtered["unshare_user"] == "EPERM");
  auto opted_in = blocked_report({"--profile", test_profile("seccomp-opt-in-all.json")});
  BOOST_TEST(opted_in["unshare_user"] == "ENOSPC");
  BOOST_TEST(opted_in["clone_user"] == "ENOSPC");
  BOOST_TEST(opted_in["clone3_user"] == "ENOSPC");
}

BOOST_AUTO_TEST_CASE(profile_check_warns_about_every_opt_in) {
  auto opted = run_tierbox({"profile", "check", test_profile("seccomp-opt-in-all.json")});
  BOOST_TEST(opted.status == 0);
  for (const char* item : {"'ptrace'", "'new_user_namespace'", "'foreign_abi'", "'tiocsti'", "'io_uring'"})
    BOOST_TEST(opted.err.find(std::string("warning: seccomp.allow_dangerous opts in to the always-blocked item ") + item) !=
                   std::string::npos,
               item << " not reported: " << opted.err);
  auto shipped = run_tierbox({"profile", "check", std::string(kSourceDir) + "/profiles/tiers/untrusted.json"});
  BOOST_TEST(shipped.status == 0);
  BOOST_TEST(shipped.err.find("allow_dangerous") == std::string::npos, shipped.err);
}

BOOST_AUTO_TEST_CASE(count_denials_counts_what_the_task_was_denied_and_answers_as_configured) {
  Workspace workspace;
  auto result = run_tierbox({"run", "-v", "--profile", test_profile("seccomp-count.json"), "--workspace",
                             workspace.str(), "--", "/bin/sh", "-c",
                             "./probe blocked keyctl ptrace_traceme clone3_user bpf_prog_load && "
                             "./probe blocked keyctl && hostname sandbox2 2>/dev/null; true"});
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  // The answers are the configured ones, exactly as without counting.
  const auto first = json::parse(result.out.substr(0, result.out.find('\n')));
  BOOST_TEST(first["keyctl"] == "EPERM");
  BOOST_TEST(first["ptrace_traceme"] == "EPERM");
  BOOST_TEST(first["bpf_prog_load"] == "EPERM");
  BOOST_TEST(first["clone3_user"] == "ENOSYS");
  for (const char* line : {"seccomp denied keyctl 2 times", "seccomp denied ptrace 1 times", "seccomp denied bpf 1 times",
                           "seccomp denied clone3 1 times", "seccomp denied sethostname 1 times"})
    BOOST_TEST(result.err.find(line) != std::string::npos, line << " not in: " << result.err);
  // Control: a tier that does not count reports nothing.
  auto plain = run_tierbox({"run", "-v", "--tier", "untrusted", "--workspace", workspace.str(), "--", "./probe",
                            "blocked", "keyctl"});
  BOOST_TEST(plain.status == 0);
  BOOST_TEST(plain.err.find("seccomp denied") == std::string::npos, plain.err);
}

// The kernel's audit records of a probe copy named name (its comm), read
// from the kernel log; "" when the log cannot be read.
std::string kernel_log_lines_of(const std::string& name) {
  auto log = run_process({"/usr/bin/dmesg"});
  if (log.status != 0) return "";
  std::string lines;
  std::istringstream in(log.out);
  for (std::string line; std::getline(in, line);)
    if (line.find("comm=\"" + name + "\"") != std::string::npos) lines += line + "\n";
  return lines;
}

BOOST_AUTO_TEST_CASE(the_kernel_logs_denials_with_log_denials_and_the_log_action) {
  if (run_process({"/usr/bin/dmesg"}).status != 0) {
    BOOST_TEST_MESSAGE("skipped: the kernel log cannot be read here");
    return;
  }
  // A probe copy with a name of its own, so its records are told apart.
  const std::string name = "tbxlog" + std::to_string(::getpid() % 100000);
  Workspace workspace;
  std::filesystem::copy_file(kProbe, workspace.path() / name);
  // keyctl (250 on x86_64): always blocked, EPERM, logged with log_denials.
  // fanotify_mark (301): in no list, so the "log" default allows and logs it.
  std::string lines;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto denied = run_tierbox({"run", "--profile", test_profile("seccomp-log.json"), "--workspace", workspace.str(),
                               "--", "./" + name, "blocked", "keyctl"});
    BOOST_REQUIRE(denied.status == 0);
    BOOST_TEST(json::parse(denied.out)["keyctl"] == "EPERM");
    auto logged = run_tierbox({"run", "--profile", test_profile("seccomp-log.json"), "--workspace", workspace.str(),
                               "--", "./" + name, "syscall", "301", "-1"});
    BOOST_REQUIRE(logged.status == 0);
    const auto answer = json::parse(logged.out)["result"];  // allowed: the kernel's own answer (EINVAL)
    BOOST_TEST((answer != "ENOSYS" && answer != "EPERM"), answer);
    lines = kernel_log_lines_of(name);
    if (lines.find("syscall=250") != std::string::npos && lines.find("syscall=301") != std::string::npos) break;
    ::sleep(2);  // the kernel rate-limits these records when no audit daemon reads them
  }
  BOOST_TEST(lines.find("type=1326") != std::string::npos, lines);
  BOOST_TEST((lines.find("syscall=250") != std::string::npos && lines.find("code=0x50000") != std::string::npos), lines);
  BOOST_TEST((lines.find("syscall=301") != std::string::npos && lines.find("code=0x7ffc0000") != std::string::npos), lines);
}

// An inotify watch on a bound host tree reports what processes outside the
// sandbox open there; untrusted denies inotify (inotify_init1 is 294 on
// x86_64). The control: readonly, the same bindings, allows it.
BOOST_AUTO_TEST_CASE(untrusted_cannot_watch_files_and_readonly_can) {
  BOOST_TEST(probe({"--tier", "untrusted"}, {"syscall", "294", "0"})["result"] == "EPERM");
  BOOST_TEST(probe({"--tier", "untrusted"}, {"syscall", "253"})["result"] == "EPERM");  // inotify_init
  BOOST_TEST(probe({"--tier", "readonly"}, {"syscall", "294", "0"})["result"] == "ok");
}

BOOST_AUTO_TEST_CASE(verbose_reports_the_filters) {
  auto result = run_tierbox({"run", "-v", "--", "/bin/true"});
  BOOST_TEST(result.status == 0);
  BOOST_TEST(result.err.find("seccomp: ") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("BPF instructions") != std::string::npos, result.err);
  BOOST_TEST(result.err.find("child: install the seccomp filters done") != std::string::npos, result.err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seccomp_workload)

// docs/seccomp.md lists this workload; keep the two in step.
BOOST_AUTO_TEST_CASE(a_real_workload_runs_under_the_untrusted_filter) {
  Workspace workspace;
  const std::string script = R"(set -e
    python3 -c 'import json, subprocess, threading, sqlite3, hashlib; print("python", subprocess.run(["echo", "child"], capture_output=True, text=True).stdout.strip())'
    echo 'hello' | tr a-z A-Z | sed 's/H/J/' | sort | uniq | wc -c
    cp /etc/hostname /tmp/copy && ls -l /tmp/copy >/dev/null && rm /tmp/copy && find /usr/bin -maxdepth 1 -name 'sh' | head -1
    printf '#include <stdio.h>\nint main(void){puts("compiled and ran");return 0;}\n' > /tmp/hello.c
    gcc -O1 -o /tmp/hello /tmp/hello.c && /tmp/hello
    git init -q /workspace/repo && cd /workspace/repo && echo data > file
    git add file && git -c user.name=t -c user.email=t@example.com commit -q -m first && git log --oneline | wc -l
    echo done)";
  for (const auto& tier : {std::vector<std::string>{"--profile", test_profile("untrusted-writable-workspace.json")},
                           std::vector<std::string>{"--tier", "workspace-write"}}) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), tier.begin(), tier.end());
    for (const auto& arg : {std::string("--workspace"), workspace.str(), std::string("--"), std::string("/bin/sh"),
                            std::string("-c"), script + "; rm -rf /workspace/repo"})
      args.push_back(arg);
    auto result = run_tierbox(args);
    BOOST_TEST(result.status == 0, tier.back() << ": " << result.err);
    BOOST_TEST(result.out == "python child\n6\n/usr/bin/sh\ncompiled and ran\n1\ndone\n", tier.back() << ": " << result.out << result.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()
