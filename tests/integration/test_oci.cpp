// The OCI runtime mode end to end on a busybox-static bundle: create, state,
// start, kill, delete with the state JSON checked field by field; run with
// exit codes and with a terminal through a console socket; the audit trail's
// container id and image digest; refusals (privileged, host network under
// a tier without network, an unknown tier) that leave nothing behind.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/temp_dir.h"
#include "common/unique_fd.h"
#include "harness.h"
#include "oci_fixture.h"

using namespace tierbox;
using namespace tierbox::testing;
using nlohmann::json;
namespace fs = std::filesystem;

using namespace tierbox::testing::oci_fixture;

BOOST_AUTO_TEST_SUITE(oci_lifecycle)

BOOST_AUTO_TEST_CASE(create_start_state_kill_delete) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sh", "-c", "sleep 4321"}));
  const auto pid_file = b.dir.path() / "pid";
  const auto created = b.oci_detached({"create", "--bundle", b.bundle.string(), "--pid-file", pid_file.string(), "c1"});
  BOOST_REQUIRE_MESSAGE(created.status == 0, "create: " + created.err);
  const int pid = std::stoi(Bundle::read_text(pid_file));

  auto state = b.state("c1");
  BOOST_TEST(state.at("ociVersion") == "1.0.2");
  BOOST_TEST(state.at("id") == "c1");
  BOOST_TEST(state.at("status") == "created");
  BOOST_TEST(state.at("pid") == pid);
  BOOST_TEST(state.at("bundle") == b.bundle.string());
  BOOST_TEST(state.at("annotations").at("io.tierbox.tier") == "untrusted");
  BOOST_TEST(process_exists(pid));
  // Created means set up, as runc's: the sandbox's init is in the run's
  // cgroups when create returns (on v1 the child joins after sync #2, and
  // create waits for its #2a).
  const int init = b.runtime_state("c1").at("sandbox_pid").get<int>();
  const auto proc_cgroup = Bundle::read_text("/proc/" + std::to_string(init) + "/cgroup");
  std::istringstream cgroup_lines(proc_cgroup);
  int in_run_cgroups = 0;
  for (std::string line; std::getline(cgroup_lines, line);)
    if (line.find("/tierbox-") != std::string::npos && line.find("tierbox-runner") == std::string::npos) ++in_run_cgroups;
  BOOST_TEST(in_run_cgroups > 0, proc_cgroup);
  // Created: the sandbox exists, its task has not been exec'd (no sleep yet).
  BOOST_TEST(!contains(run_process({"/bin/sh", "-c", "ps -eo args"}).out, "sleep 4322"));

  const auto started = b.oci({"start", "c1"});
  BOOST_REQUIRE_MESSAGE(started.status == 0, "start: " + started.err);
  state = b.state("c1");
  BOOST_TEST(state.at("status") == "running");
  BOOST_TEST(state.at("pid") == pid);
  // A second start is refused: it is running, not created.
  const auto again = b.oci({"start", "c1"});
  BOOST_TEST(again.status != 0);
  BOOST_TEST(contains(again.err, "is running, not created"), again.err);
  // Deleting a running container without --force is refused.
  const auto early_delete = b.oci({"delete", "c1"});
  BOOST_TEST(early_delete.status != 0);
  BOOST_TEST(contains(early_delete.err, "is running"), early_delete.err);

  const auto killed = b.oci({"kill", "c1", "SIGKILL"});
  BOOST_REQUIRE_MESSAGE(killed.status == 0, "kill: " + killed.err);
  BOOST_REQUIRE(b.wait_for_status("c1", "stopped"));
  state = b.state("c1");
  BOOST_TEST(state.at("pid") == 0);
  // The supervisor's exit status is the container's (SIGKILL: 137). It was
  // reparented to the nearest subreaper: this test process when it is one
  // (as an engine's shim is), else init.
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid) BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 137), status);
  else BOOST_TEST(wait_until_gone(pid, std::chrono::seconds(10)));
  // kill of a stopped container is an error, as in runc.
  BOOST_TEST(b.oci({"kill", "c1", "TERM"}).status != 0);

  const auto deleted = b.oci({"delete", "c1"});
  BOOST_REQUIRE_MESSAGE(deleted.status == 0, "delete: " + deleted.err);
  BOOST_TEST(!fs::exists(b.root / "c1"));
  const auto gone = b.oci({"state", "c1"});
  BOOST_TEST(gone.status != 0);
  BOOST_TEST(contains(gone.err, "does not exist"), gone.err);

  // Audited like a run, with the container id and the image digest; the
  // cgroups its start record names are gone.
  const auto records = b.audit_records();
  bool start_seen = false, end_seen = false;
  for (const auto& record : records) {
    BOOST_TEST(record.at("container").at("id") == "c1");
    BOOST_TEST(record.at("container").at("image_digest").get<std::string>().rfind("sha256:", 0) == 0u);
    if (record.at("event") == "start") {
      start_seen = true;
      for (const auto& dir : record.at("cgroup")) BOOST_TEST(!fs::exists(dir.get<std::string>()), dir);
    }
    if (record.at("event") == "end") {
      end_seen = true;
      BOOST_TEST(record.at("exit").at("status") == 137);
      BOOST_TEST(record.at("exit").at("signal") == SIGKILL);
    }
  }
  BOOST_TEST(start_seen);
  BOOST_TEST(end_seen);
}

BOOST_AUTO_TEST_CASE(kill_of_a_created_container_and_delete_force) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sleep", "4322"}));
  BOOST_REQUIRE(b.oci_detached({"create", "--bundle", b.bundle.string(), "c2"}).status == 0);
  BOOST_REQUIRE(b.state("c2").at("status") == "created");
  const int pid = b.state("c2").at("pid");
  // Never started: delete --force ends it (no task ever ran) and removes it.
  const auto deleted = b.oci({"delete", "--force", "c2"});
  BOOST_REQUIRE_MESSAGE(deleted.status == 0, deleted.err);
  BOOST_TEST(!fs::exists(b.root / "c2"));
  // delete --force of what is not there: no error (engines retry deletes).
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid) BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) != 0), status);
  else BOOST_TEST(wait_until_gone(pid, std::chrono::seconds(10)));
  BOOST_TEST(b.oci({"delete", "--force", "c2"}).status == 0);
  BOOST_TEST(b.oci({"delete", "c2"}).status != 0);
}

BOOST_AUTO_TEST_CASE(run_passes_exit_codes_and_the_container_sees_its_root) {
  REQUIRE_BUSYBOX();
  Bundle b(bundle_config({"sh", "-c", "hostname; id -u; ls /; test -e /usr/bin/apt && echo HOST-USR; exit 7"}));
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "r1"});
  BOOST_TEST(result.status == 7, result.err);
  BOOST_TEST(contains(result.out, "ocitest\n"), result.out);
  BOOST_TEST(contains(result.out, "1000\n"), result.out);  // the tier's user, not the bundle's root
  BOOST_TEST(contains(result.out, "bin"), result.out);
  // The tier's host /usr bind is left out: the container's root replaces it.
  BOOST_TEST(!contains(result.out, "HOST-USR"), result.out);
  BOOST_TEST(!fs::exists(b.root / "r1"));  // run deletes what it created

  // process.rlimits below the tier's (untrusted: nofile 256) are applied.
  auto limited = bundle_config({"sh", "-c", "ulimit -n"});
  limited["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 64}, {"hard", 64}}});
  b.write_config(limited);
  const auto narrowed = b.oci({"run", "--bundle", b.bundle.string(), "r3"});
  BOOST_TEST(narrowed.status == 0, narrowed.err);
  BOOST_TEST(narrowed.out == "64\n");

  b.write_config(bundle_config({"sh", "-c", "kill -TERM $$"}));
  BOOST_TEST(b.oci({"run", "--bundle", b.bundle.string(), "r2"}).status == 128 + SIGTERM);
}

BOOST_AUTO_TEST_CASE(run_with_a_terminal_through_the_console_socket) {
  REQUIRE_BUSYBOX();
  auto config = bundle_config({"sh", "-c", "test -t 0 && test -t 1 && echo on-a-terminal; exit 4"});
  config["process"]["terminal"] = true;
  Bundle b(config);
  const ConsoleSocket console_socket(b.dir.path() / "console.sock");

  // Without the socket, a terminal bundle is refused.
  const auto refused = b.oci({"run", "--bundle", b.bundle.string(), "t0"});
  BOOST_TEST(refused.status != 0);
  BOOST_TEST(contains(refused.err, "--console-socket"), refused.err);

  BackgroundRun run({"oci", "--root", b.root.string(), "--config-dir", b.config.string(), "run", "--bundle",
                     b.bundle.string(), "--console-socket", console_socket.path().string(), "t1"});
  const auto console = console_socket.accept();
  BOOST_TEST(console.name.rfind("/dev/pts/", 0) == 0u, console.name);
  BOOST_TEST(::isatty(console.master.get()));
  const auto output = console.read_all();
  BOOST_TEST(run.wait() == 4);
  BOOST_TEST(contains(output, "on-a-terminal"), output);
}

BOOST_AUTO_TEST_CASE(features_and_version) {
  Bundle b(bundle_config({"true"}));
  const auto features = b.oci({"features"});
  BOOST_REQUIRE(features.status == 0);
  const auto document = json::parse(features.out);
  BOOST_TEST(document.at("ociVersionMax") == "1.0.2");
  BOOST_TEST(document.at("hooks").empty());
  BOOST_TEST(document.at("linux").at("cgroup").at("systemd") == false);
  const auto version = b.oci({"--version"});
  BOOST_TEST(version.status == 0);
  BOOST_TEST(contains(version.out, "spec: 1.0.2"), version.out);
  // The same program named tierbox-runc speaks the same command line.
  const auto link = b.dir.path() / "tierbox-runc";
  fs::create_symlink(kTierbox, link);
  const auto runc_named = run_process({link.string(), "--version"});
  BOOST_TEST(runc_named.status == 0);
  BOOST_TEST(contains(runc_named.out, "tierbox-runc version"), runc_named.out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(oci_refusals)

BOOST_AUTO_TEST_CASE(privileged_host_network_and_unknown_tier) {
  REQUIRE_BUSYBOX();
  auto privileged = bundle_config({"true"});
  privileged["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  expect_refused(privileged, "p1", "the bundle is privileged");

  auto host_network = bundle_config({"true"});
  host_network["linux"]["namespaces"] = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  expect_refused(host_network, "n1", "the host's network; tier 'untrusted' has network mode none");

  auto unknown = bundle_config({"true"});
  unknown["annotations"]["io.tierbox.tier"] = "no-such-tier";
  expect_refused(unknown, "u1", "no-such-tier");

  // A root that is the host's, or holds the audit log: never bound.
  auto host_root = bundle_config({"true"});
  host_root["root"]["path"] = "/";
  expect_refused(host_root, "h1", "root.path \"/\" is the host's root");
  {
    Bundle holder(bundle_config({"true"}));
    auto config = bundle_config({"true"});
    config["root"]["path"] = holder.dir.path().string();  // holds holder's audit log, which the run writes to
    holder.write_config(config);
    const auto created = holder.oci_detached({"create", "--bundle", holder.bundle.string(), "a1"});
    BOOST_TEST(created.status != 0);
    BOOST_TEST(contains(created.err, "which no sandbox may see"), created.err);
    BOOST_TEST(!fs::exists(holder.root / "a1"));
  }

  // Control: the same bundle with nothing widened runs.
  Bundle b(bundle_config({"true"}));
  const auto result = b.oci({"run", "--bundle", b.bundle.string(), "ok1"});
  BOOST_TEST(result.status == 0, result.err);
}

// A config.json that is not JSON: refused with one line naming the file, no
// state left, and the attempt is in the audit trail with the container.
BOOST_AUTO_TEST_CASE(a_malformed_config_is_refused_and_recorded) {
  Bundle b(bundle_config({"true"}));
  std::ofstream(b.bundle / "config.json", std::ios::trunc) << "{\"ociVersion\": ";
  const auto created = b.oci_detached({"create", "--bundle", b.bundle.string(), "m1"});
  BOOST_TEST(created.status != 0);
  BOOST_TEST(contains(created.err, (b.bundle / "config.json").string() + ": not JSON"), created.err);
  BOOST_TEST(line_count(created.err) == 1);
  BOOST_TEST(!fs::exists(b.root / "m1"));
  bool recorded = false;
  for (const auto& record : b.audit_records()) {
    BOOST_TEST(record.at("event") != "start");
    if (record.contains("container") && record.at("container").at("id") == "m1" &&
        record.at("event") == "profile_refused")
      recorded = true;
  }
  BOOST_TEST(recorded);
}

BOOST_AUTO_TEST_CASE(systemd_cgroup_is_refused_clearly) {
  Bundle b(bundle_config({"true"}));
  const auto result = b.oci_detached({"--systemd-cgroup", "create", "--bundle", b.bundle.string(), "s1"});
  BOOST_TEST(result.status != 0);
  BOOST_TEST(contains(result.err, "--systemd-cgroup: not supported"), result.err);
  BOOST_TEST(line_count(result.err) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// Container engines from Debian's packages, each in a mount namespace of the
// test's own (podman's and containerd's mounts vanish with it), with storage,
// state and sockets in a temp directory, and tierbox as their runtime through
// a wrapper that names the test's config and audit log.
namespace {

bool have_program(const std::string& name) {
  return run_process({"/bin/sh", "-c", "command -v " + name}).status == 0;
}

struct Engine {
  Bundle b{bundle_config({"true"})};
  fs::path wrapper = b.dir.path() / "tierbox-runc";
  Engine() {
    std::ofstream(wrapper) << "#!/bin/sh\nexport TIERBOX_AUDIT_LOG='" << b.audit_log.string() << "'\nexec '" << kTierbox
                           << "' oci --config-dir '" << b.config.string() << "' \"$@\"\n";
    fs::permissions(wrapper, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
  }
  // The script in a private mount namespace; its output and status.
  [[nodiscard]] ProcessResult script(const std::string& text) const {
    SpawnOptions options;
    options.timeout = std::chrono::seconds(120);
    return run_process({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", text}, options);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return Bundle::read_text(b.dir.path() / name); }
  [[nodiscard]] bool audited(const std::string& event) const {
    for (const auto& record : b.audit_records())
      if (record.at("event") == event && record.contains("container")) return true;
    return false;
  }
};

// What the probe prints inside: the tier's seccomp filter, no_new_privs, no
// capabilities, the tier's nofile rlimit (untrusted: 256).
const char* const kProbeCommand =
    "echo hello-engine; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; ulimit -n; exit 5";

void expect_tier_in_force(const std::string& out) {
  BOOST_TEST(contains(out, "hello-engine"), out);
  BOOST_TEST(contains(out, "Seccomp:\t2"), out);
  BOOST_TEST(contains(out, "NoNewPrivs:\t1"), out);
  BOOST_TEST(contains(out, "CapEff:\t0000000000000000"), out);
  BOOST_TEST(contains(out, "\n256\n"), out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_engines)

BOOST_AUTO_TEST_CASE(podman_runs_an_imported_image_in_the_tier) {
  REQUIRE_BUSYBOX();
  if (!have_program("podman")) {
    BOOST_TEST_MESSAGE("skipped: podman is not installed (apt-get install podman; tools/install-deps.sh --test)");
    return;
  }
  Engine engine;
  const auto base = engine.b.dir.path().string();
  const std::string podman = "podman --root " + base + "/storage --runroot " + base +
                             "/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --runtime " +
                             engine.wrapper.string();
  const std::string image = "localhost/tierbox-oci-test:1";
  const auto result = engine.script(
      "set -u; cd " + base + " && tar -C bundle/rootfs -cf image.tar . && " + podman + " import image.tar " + image +
      " >/dev/null && " + podman + " run --rm --network none --annotation io.tierbox.tier=untrusted " + image +
      " /bin/sh -c \"" + kProbeCommand + "\" >probe.out 2>probe.err; echo $? >probe.status; " + podman +
      " run --rm --network none --privileged " + image + " /bin/true >privileged.out 2>privileged.err; echo $? "
      ">privileged.status; id=$(" + podman + " run -d --network none " + image + " /bin/sleep 4323) && " + podman +
      " stop -t 5 $id >/dev/null && " + podman + " inspect --format '{{.State.Status}} {{.State.ExitCode}}' $id "
      ">stopped.out 2>&1; " + podman + " rm -a -f >/dev/null 2>&1; " + podman + " rmi -a -f >/dev/null 2>&1; true");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  BOOST_TEST(engine.file("probe.status") == "5\n", engine.file("probe.err"));
  expect_tier_in_force(engine.file("probe.out"));
  BOOST_TEST(engine.file("privileged.status") != "0\n");
  BOOST_TEST(contains(engine.file("privileged.err"), "the bundle is privileged"), engine.file("privileged.err"));
  // podman stop: `kill ID SIGTERM` reaches the task through the sandbox's init.
  BOOST_TEST(engine.file("stopped.out") == "exited 143\n");
  BOOST_TEST(engine.audited("start"));
  BOOST_TEST(engine.audited("end"));
  BOOST_TEST(engine.audited("profile_refused"));
}

BOOST_AUTO_TEST_CASE(containerd_runs_a_rootfs_with_tierbox_as_the_runc_binary) {
  REQUIRE_BUSYBOX();
  if (!have_program("containerd") || !have_program("ctr")) {
    BOOST_TEST_MESSAGE("skipped: containerd is not installed (apt-get install containerd; tools/install-deps.sh --test)");
    return;
  }
  Engine engine;
  const auto base = engine.b.dir.path().string();
  std::ofstream(engine.b.dir.path() / "containerd.toml")
      << "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";
  const std::string ctr = "ctr -a " + base + "/c.sock";
  // containerd started here, with its own root, state and socket, stopped
  // (and waited for) at the end; its shims end with their containers.
  const auto result = engine.script(
      "set -u; cd " + base + "; containerd --root " + base + "/croot --state " + base + "/cstate --address " + base +
      "/c.sock --config " + base + "/containerd.toml >containerd.log 2>&1 & pid=$!; "
      "for i in $(seq 100); do [ -S c.sock ] && break; sleep 0.1; done; " +
      ctr + " run --rm --runc-binary " + engine.wrapper.string() + " --rootfs " + base +
      "/bundle/rootfs tierbox-oci-ctr1 /bin/sh -c \"" + kProbeCommand + "\" >probe.out 2>probe.err; echo $? >probe.status; " +
      ctr + " run --rm --runc-binary " + engine.wrapper.string() + " --privileged --rootfs " + base +
      "/bundle/rootfs tierbox-oci-ctr2 /bin/true >privileged.out 2>privileged.err; echo $? >privileged.status; " +
      ctr + " containers rm tierbox-oci-ctr2 >/dev/null 2>&1; kill $pid; wait $pid; true");
  BOOST_REQUIRE_MESSAGE(result.status == 0, result.err);
  BOOST_TEST(engine.file("probe.status") == "5\n", engine.file("probe.err"));
  expect_tier_in_force(engine.file("probe.out"));
  BOOST_TEST(engine.file("privileged.status") != "0\n");
  BOOST_TEST(contains(engine.file("privileged.err"), "the bundle is privileged"), engine.file("privileged.err"));
  BOOST_TEST(engine.audited("start"));
  BOOST_TEST(engine.audited("end"));
}

BOOST_AUTO_TEST_SUITE_END()
