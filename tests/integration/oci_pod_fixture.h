// Kubernetes pods for the OCI runtime mode's tests: an engine's network
// namespace as containerd's CRI makes one, a pod container's config.json,
// the pod sandbox container started, and reading namespaces back; shared by
// test_oci_pods.cpp and test_oci_pod_network.cpp.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "harness.h"
#include "oci_fixture.h"

namespace tierbox::testing::oci_pod_fixture {

using namespace tierbox::testing::oci_fixture;

// The test process's own mount namespace with an empty /run/netns, once.
inline void enter_private_mounts() {
  static bool done = false;
  if (done) return;
  BOOST_REQUIRE_MESSAGE(::unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): " << std::strerror(errno));
  BOOST_REQUIRE(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
  fs::create_directories("/run/netns");
  BOOST_REQUIRE(::mount("tbx-oci-pods", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") == 0);
  done = true;
}

// A network namespace as containerd's CRI makes one for a pod, with an
// interface besides lo (a veth pair, both ends inside) standing for the
// pod's CNI interface.
struct EngineNetns {
  std::string name = next_name();
  fs::path path = "/run/netns/" + name;
  EngineNetns() {
    enter_private_mounts();
    const auto added = run_process({"/bin/sh", "-c", "ip netns add " + name + " && ip -n " + name +
                                                         " link add tbxcni0 type veth peer name tbxcni1"});
    BOOST_REQUIRE_MESSAGE(added.status == 0, "ip netns add: " + added.err);
  }
  ~EngineNetns() { (void)run_process({"/bin/sh", "-c", "ip netns del " + name}); }
  static std::string next_name() {
    static int count = 0;
    return "tbx-pod-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
  }
  [[nodiscard]] std::string inode() const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? std::to_string(st.st_ino) : "?";
  }
};

inline json namespaces(const std::map<std::string, std::string>& paths) {
  json list = json::array();
  for (const char* type : {"pid", "mount", "ipc", "uts", "network"}) {
    json entry = {{"type", type}};
    if (const auto it = paths.find(type); it != paths.end()) entry["path"] = it->second;
    list.push_back(entry);
  }
  if (const auto it = paths.find("user"); it != paths.end()) list.push_back({{"type", "user"}, {"path", it->second}});
  return list;
}

inline json pod_config(const std::vector<std::string>& args, const std::string& hostname, const std::string& tier,
                const std::map<std::string, std::string>& paths) {
  auto config = bundle_config(args);
  config["hostname"] = hostname;
  config["annotations"]["io.tierbox.tier"] = tier;
  config["linux"]["namespaces"] = namespaces(paths);
  return config;
}

// "net:[4026532245]" -> "4026532245".
inline std::string inode_of_link(const std::string& link) {
  const auto open = link.find('['), close = link.find(']');
  return open == std::string::npos || close == std::string::npos ? link : link.substr(open + 1, close - open - 1);
}

inline std::string namespace_inode(pid_t pid, const std::string& name) {
  std::error_code ec;
  return inode_of_link(fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + name, ec).string());
}

// The line after "NAME=" in out.
inline std::string value_of(const std::string& out, const std::string& name) {
  const auto at = out.find(name + "=");
  if (at == std::string::npos) return "";
  const auto end = out.find('\n', at);
  return out.substr(at + name.size() + 1, end - at - name.size() - 1);
}

// Deletes the pod's sandbox container however the test ends.
struct DeleteAtEnd {
  const Bundle& b;
  std::string id;
  ~DeleteAtEnd() { (void)b.oci({"delete", "--force", id}); }
};

// The pod's sandbox container ("pause"), created and started; its state's pid.
inline int start_sandbox(const Bundle& b, const std::string& id, const fs::path& bundle) {
  const auto pid_file = b.dir.path() / (id + ".pid");
  const auto created = b.oci_detached({"create", "--bundle", bundle.string(), "--pid-file", pid_file.string(), id});
  BOOST_REQUIRE_MESSAGE(created.status == 0, "create " + id + ": " + created.err);
  const auto started = b.oci({"start", id});
  BOOST_REQUIRE_MESSAGE(started.status == 0, "start " + id + ": " + started.err);
  return std::stoi(Bundle::read_text(pid_file));
}

}  // namespace tierbox::testing::oci_pod_fixture
