// An image store of the test's own for integration tests of image tiers: a
// config directory whose tierbox.json names the store (rootfs_dir), with
// images built by `tierbox rootfs build` once per test process.
#pragma once

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "integration/harness.h"

namespace tierbox::testing {

struct RootfsStore {
  TempDir config{"tierbox-rootfs"};
  std::filesystem::path store = config.path() / "store";
  std::string digest;  // of the image built
  ProcessResult built;
  // Builds image (a shipped recipe) into the store; built says how it went.
  explicit RootfsStore(const std::string& image = "minimal") {
    config.write("tierbox.json", nlohmann::json{{"rootfs_dir", store.string()}}.dump());
    built = rootfs({"build", image}, std::chrono::seconds(900));
    std::istringstream words(built.out);
    std::string verb, name;
    words >> verb >> name >> digest;
  }
  [[nodiscard]] ProcessResult rootfs(std::vector<std::string> args,
                                     std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    args.insert(args.begin(), {"rootfs", "--config-dir", config.str()});
    SpawnOptions options;
    options.timeout = timeout;
    return run_tierbox(args, options);
  }
  // `run --tier TIER` with this store, in workspace.
  [[nodiscard]] ProcessResult run(const std::string& tier, const std::vector<std::string>& command,
                                  const TempDir& workspace) const {
    std::vector<std::string> args = {"run", "--config-dir", config.str(), "--tier", tier, "--workspace", workspace.str(), "--"};
    args.insert(args.end(), command.begin(), command.end());
    return run_tierbox(args);
  }
  [[nodiscard]] std::filesystem::path tree(const std::string& digest_of_image) const {
    return store / "images" / digest_of_image.substr(7) / "tree";
  }
};

// The store with `minimal` built, once per test process (the sealed tier's).
inline const RootfsStore& minimal_store() {
  static const RootfsStore instance;
  BOOST_REQUIRE_MESSAGE(instance.built.status == 0, "rootfs build minimal: " + instance.built.err);
  return instance;
}

// A workspace with the static probe as ./probe-static (an image may hold no
// libc for the usual one).
struct ProbeWorkspace : Workspace {
  ProbeWorkspace() { std::filesystem::copy_file(TIERBOX_STATIC_PROBE, path() / "probe-static"); }
};

// Lines of a mountinfo whose root (field 4) is a host path other than the
// image store's or the workspace's. Mounts at /dev/* (tierbox's device
// binds, roots like /null of devtmpfs) and /proc/* (procfs rebinds and
// masks, roots like /sys of procfs) are not host trees.
inline std::vector<std::string> host_paths_in(const std::string& mountinfo, const std::string& workspace,
                                              const std::filesystem::path& store) {
  std::vector<std::string> found;
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    const bool allowed = root == "/" || root.rfind(store.string() + "/", 0) == 0 ||
                         root.rfind(workspace, 0) == 0 || mount_point.rfind("/dev/", 0) == 0 ||
                         mount_point.rfind("/proc/", 0) == 0;
    if (!allowed) found.push_back(line);
  }
  return found;
}

}  // namespace tierbox::testing
