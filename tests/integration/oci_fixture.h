// The OCI runtime mode's test fixture: a busybox-static bundle, its --root
// and a config directory with the test's own audit log; shared by
// test_oci.cpp (lifecycle, refusals, engines) and test_oci_pods.cpp (pods,
// exec, pause and resume).
#pragma once

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

namespace tierbox::testing::oci_fixture {

using nlohmann::json;
namespace fs = std::filesystem;


// busybox-static, a symlink per applet the tests use.
inline bool have_static_busybox() {
  const auto out = run_process({"/bin/sh", "-c", "file -L /bin/busybox 2>/dev/null || ldd /bin/busybox 2>&1"}).out;
  return out.find("statically linked") != std::string::npos || out.find("not a dynamic executable") != std::string::npos;
}

inline json bundle_config(const std::vector<std::string>& args) {
  return json{
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", args},
        {"env", {"PATH=/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}}}}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "ocitest"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"ro"}}}}},
      {"annotations", {{"io.tierbox.tier", "untrusted"}}},
      {"linux",
       {{"namespaces", json::array({{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                    {{"type", "mount"}}})}}}};
}

// A bundle directory, a --root and a config directory whose tierbox.json
// sends the audit trail to a log of the test's own.
struct Bundle {
  TempDir dir{"tierbox-oci"};
  fs::path bundle = dir.path() / "bundle";
  fs::path root = dir.path() / "root";
  fs::path config = dir.path() / "config";
  fs::path audit_log = dir.path() / "audit.log";

  explicit Bundle(const json& config_json) {
    make_rootfs(bundle);
    ::chmod(dir.path().c_str(), 0755);
    write_config(config_json);
    fs::create_directories(config);
    std::ofstream(config / "tierbox.json") << json{{"audit_log", audit_log.string()}}.dump();
  }
  static void make_rootfs(const fs::path& bundle_dir) {
    fs::create_directories(bundle_dir / "rootfs" / "bin");
    fs::create_directories(bundle_dir / "rootfs" / "etc");
    fs::create_directories(bundle_dir / "rootfs" / "tmp");
    fs::copy_file("/bin/busybox", bundle_dir / "rootfs" / "bin" / "busybox");
    for (const char* applet :
         {"sh", "echo", "cat", "sleep", "id", "hostname", "ls", "test", "[", "true", "grep", "readlink", "ps", "wc", "nc",
          "ip", "timeout", "tr", "cut", "sort"})
      fs::create_symlink("busybox", bundle_dir / "rootfs" / "bin" / applet);
  }
  void write_config(const json& config_json) const { std::ofstream(bundle / "config.json") << config_json.dump(2); }
  // Another bundle under the same directory (a pod's next container), with
  // the same --root and configuration.
  [[nodiscard]] fs::path add_bundle(const std::string& name, const json& config_json) const {
    const auto path = dir.path() / name;
    make_rootfs(path);
    std::ofstream(path / "config.json") << config_json.dump(2);
    return path;
  }
  // The container's state as the runtime keeps it (sandbox_pid and more).
  [[nodiscard]] json runtime_state(const std::string& id) const {
    return json::parse(read_text(root / id / "state.json"));
  }

  [[nodiscard]] ProcessResult oci(std::vector<std::string> args) const {
    args.insert(args.begin(), {"oci", "--root", root.string(), "--config-dir", config.string()});
    SpawnOptions options;
    // The test's own audit log (main.cpp's TIERBOX_AUDIT_LOG would win over tierbox.json).
    options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TIERBOX_AUDIT_LOG=" + audit_log.string()};
    return run_tierbox(args, options);
  }
  // create and run --detach as an engine calls them: stdio that is not the
  // test's pipes (the supervising process keeps its stdio for the
  // container, so a pipe would not reach EOF until the container ends).
  [[nodiscard]] ProcessResult oci_detached(const std::vector<std::string>& args) const {
    std::string command = "exec '" + std::string(kTierbox) + "' oci --root '" + root.string() + "' --config-dir '" +
                          config.string() + "'";
    for (const auto& arg : args) command += " '" + arg + "'";
    const auto out = dir.path() / "create.out";
    const auto err = dir.path() / "create.err";
    command += " </dev/null >'" + out.string() + "' 2>'" + err.string() + "'";
    SpawnOptions options;
    options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TIERBOX_AUDIT_LOG=" + audit_log.string()};
    auto result = run_process({"/bin/sh", "-c", command}, options);
    result.out = read_text(out);
    result.err = read_text(err);
    return result;
  }
  static std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  [[nodiscard]] json state(const std::string& id) const {
    const auto result = oci({"state", id});
    BOOST_REQUIRE_MESSAGE(result.status == 0, "state " + id + ": " + result.err);
    return json::parse(result.out);
  }
  [[nodiscard]] std::vector<json> audit_records() const {
    std::vector<json> records;
    std::ifstream in(audit_log);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) records.push_back(json::parse(line));
    return records;
  }
  // Polls `state` until status is wanted (at most 20 s).
  bool wait_for_status(const std::string& id, const std::string& wanted) const {
    for (int i = 0; i < 400; ++i) {
      if (state(id).at("status") == wanted) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

#define REQUIRE_BUSYBOX()                                                                         \
  if (!have_static_busybox()) {                                                                   \
    BOOST_TEST_MESSAGE("skipped: /bin/busybox is not the static build (apt-get install busybox-static)"); \
    return;                                                                                       \
  }

// The engine's end of --console-socket: a listening unix socket the runtime
// connects to and sends the pty master over (SCM_RIGHTS, with the pty's
// name as the data), as runc does. Written here as an engine would, not with
// the runtime's own fd-passing code.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(fs::path path) : path_(std::move(path)) {
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(listener_);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    BOOST_REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(::listen(listener_.get(), 1) == 0);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

  struct Console {
    std::string name;  // "/dev/pts/N"
    UniqueFd master;
    // Everything the pty shows until the last process on it is gone.
    std::string read_all() const {
      std::string output;
      char buffer[1024];
      for (ssize_t n; (n = ::read(master.get(), buffer, sizeof buffer)) > 0;) output.append(buffer, static_cast<std::size_t>(n));
      return output;
    }
  };
  // Waits for the runtime to connect and send its pty master.
  Console accept() const {
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    BOOST_REQUIRE(connection);
    char name[256] = {};
    iovec data{name, sizeof name - 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    BOOST_REQUIRE(::recvmsg(connection.get(), &message, MSG_CMSG_CLOEXEC) > 0);
    const cmsghdr* header = CMSG_FIRSTHDR(&message);
    BOOST_REQUIRE((header && header->cmsg_type == SCM_RIGHTS));
    int master = -1;
    std::memcpy(&master, CMSG_DATA(header), sizeof master);
    return Console{name, UniqueFd(master)};
  }

 private:
  fs::path path_;
  UniqueFd listener_;
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }


// Each refused bundle: create fails with the one line, no state is left,
// no sandbox ran, and the refusal is in the audit trail with the container.
inline void expect_refused(const json& config, const std::string& id, const std::string& line_part) {
  Bundle b(config);
  const auto created = b.oci_detached({"--log", (b.dir.path() / "log.json").string(), "--log-format", "json", "create",
                                       "--bundle", b.bundle.string(), id});
  BOOST_TEST(created.status != 0);
  BOOST_TEST(contains(created.err, line_part), created.err);
  BOOST_TEST(!fs::exists(b.root / id));
  // The engine reads the error back from --log.
  const auto log = Bundle::read_text(b.dir.path() / "log.json");
  BOOST_TEST(contains(log, "\"level\":\"error\""), log);
  bool refusal_recorded = false;
  for (const auto& record : b.audit_records()) {
    BOOST_TEST(record.at("event") != "start");
    if (record.at("container").at("id") == id) refusal_recorded = true;
  }
  BOOST_TEST(refusal_recorded);
}


// A runner that died while a private tmpfs of its own was mounted under the
// state directory (subdir: "root-layers", "termination-messages"; source:
// the tmpfs's name there): gc detaches and removes one older than a minute
// whose run is not live, printing "removed LABEL PATH", and leaves a fresh
// one (a live runner's, the control). Mounted in a mount namespace of the
// test's own, where gc runs too.
inline void check_gc_removes_a_leftover_tmpfs(const std::string& subdir, const std::string& source,
                                              const std::string& label) {
  TempDir dir{"tierbox-tmpfs-gc"};
  const auto state = dir.path() / "state";
  const auto config = dir.path() / "config";
  fs::create_directories(config);
  std::ofstream(config / "tierbox.json")
      << json{{"state_dir", state.string()}, {"audit_log", (dir.path() / "audit.log").string()}}.dump();
  const auto old_one = state / subdir / "deadbeef00000001";
  const auto fresh_one = state / subdir / "deadbeef00000002";
  fs::create_directories(old_one);
  fs::create_directories(fresh_one);
  const std::string command =
      "mount -t tmpfs " + source + " '" + old_one.string() + "' && mount -t tmpfs " + source + " '" +
      fresh_one.string() + "' && touch -d '-2 minutes' '" + old_one.string() + "' && '" + kTierbox +
      "' gc --config-dir '" + config.string() + "' && echo mounted-after: && grep -c " + source +
      " /proc/self/mountinfo && umount '" + fresh_one.string() + "'";
  const auto result = run_process({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", command});
  BOOST_TEST(result.status == 0, result.err);
  BOOST_TEST(contains(result.out, "removed " + label + " " + old_one.string()), result.out);
  BOOST_TEST(!contains(result.out, fresh_one.string()), result.out);
  BOOST_TEST(contains(result.out, "mounted-after:\n1\n"), result.out);  // the fresh one only
  BOOST_TEST(!fs::exists(old_one));
  BOOST_TEST(fs::exists(fresh_one));
}

}  // namespace tierbox::testing::oci_fixture
