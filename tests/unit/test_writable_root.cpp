// container.writable_root (sections/filesystem.cpp): the field's errors, the
// plan of a container's writable root (layered image directories, the
// layer's size, Landlock, the summary and digest), and what `profile diff`,
// `final` and `profile explain` say of it. The sandbox side:
// tests/integration/test_oci_writable_root.cpp.
#include <boost/test/unit_test.hpp>

#include <sys/mount.h>

#include <algorithm>

#include "oci/spec.h"
#include "policy/plan_split.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/review/review.h"
#include "profile_text.h"
#include "stages/mounts.h"
#include "stages/root_layer.h"

using namespace tierbox;
using namespace tierbox::policy;
using namespace tierbox::testing;
using nlohmann::json;

namespace {

constexpr const char* kWritableTier =
    R"({"extends": "untrusted", "container": {"writable_root": true}, "limits": {"disk": "8M"}})";

json bundle(bool readonly) {
  return json{{"ociVersion", "1.0.2"},
              {"process", {{"args", {"sh"}}, {"env", {"PATH=/bin"}}, {"cwd", "/"}}},
              {"root", {{"path", "rootfs"}, {"readonly", readonly}}},
              {"linux",
               {{"namespaces", json::array({{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                            {{"type", "mount"}}})}}}};
}

HostFacts container_facts() {
  HostFacts facts;
  facts.landlock_abi = 7;
  facts.rootfs_image = RootfsImageFacts{"container:c1",
                                        "sha256:00",
                                        "/b/rootfs",
                                        {{"bin", rootfs::EntryKind::directory, ""},
                                         {"etc", rootfs::EntryKind::directory, ""},
                                         {"lib", rootfs::EntryKind::symlink, "usr/lib"},
                                         {"var", rootfs::EntryKind::directory, ""},
                                         {"version", rootfs::EntryKind::file, ""}},
                                        {{"nginx", rootfs::EntryKind::directory, ""}, {"os-release", rootfs::EntryKind::file, ""}},
                                        0,
                                        0};
  return facts;
}

LaunchPlan container_plan(const Profile& tier, bool readonly) {
  const auto narrowed = oci::narrow_to_tier(oci::parse_spec(bundle(readonly), "/b/config.json"), tier, "/b", "c1", "sha256:00");
  return make_plan(tier, narrowed.request, container_facts(), "r1");
}

const PreparedMount* prepared_at(const LaunchPlan& plan, const std::string& target) {
  for (const auto& op : plan.mount_ops)
    if (op.kind == MountOp::Kind::attach_prepared && op.target == target && op.prepared >= 0)
      return &plan.prepared_mounts[static_cast<std::size_t>(op.prepared)];
  return nullptr;
}

std::uint64_t landlock_access(const LaunchPlan& plan, const std::string& path) {
  for (const auto& rule : plan.landlock.paths)
    if (rule.path == path) return rule.access;
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oci_writable_root_plan)

BOOST_AUTO_TEST_CASE(the_field_and_its_errors) {
  TempDir dir;
  BOOST_TEST(load_text(dir, kWritableTier).container.writable_root);
  BOOST_TEST(!load_text(dir, R"({"extends": "untrusted"})").container.writable_root);  // the default
  // Not a bool: the file, the pointer and what is expected.
  expect_error(R"({"extends": "untrusted", "container": {"writable_root": "yes"}, "limits": {"disk": "8M"}})",
               {"t.json", "/container/writable_root", "expected true or false"});
  // An unknown key of the object.
  expect_error(R"({"extends": "untrusted", "container": {"writable": true}})", {"t.json", "/container/writable"});
  // True without limits.disk: the layer would have no size.
  expect_error(R"({"extends": "untrusted", "container": {"writable_root": true}})",
               {"t.json", "/container/writable_root", "needs limits.disk", "fix:"});
  // Nor when a child drops the base's disk limit.
  dir.write("tiers/layered.json", kWritableTier);
  const auto dropped = load_error(dir, R"({"extends": "layered", "limits": {"disk": null}})");
  BOOST_TEST(dropped.find("/container/writable_root: true needs limits.disk") != std::string::npos, dropped);
}

BOOST_AUTO_TEST_CASE(root_readonly_false_under_the_field_layers_the_image_directories) {
  TempDir dir;
  const auto tier = load_text(dir, kWritableTier);
  const auto plan = container_plan(tier, false);
  BOOST_REQUIRE(plan.root_layer.has_value());
  BOOST_TEST(plan.root_layer->size_bytes == 8u << 20);
  BOOST_TEST(plan.root_layer->image_owner_uid == 0u);
  // Directories (and etc's directories) are layered; files, symlinks and
  // the root itself are not.
  for (const char* target : {"bin", "var", "etc/nginx"}) {
    const auto* prepared = prepared_at(plan, target);
    BOOST_TEST_REQUIRE(prepared != nullptr, target);
    BOOST_TEST(prepared->layered, target);
    BOOST_TEST(prepared->read_only, target);  // the lower layer, sealed as before
  }
  for (const char* target : {"version", "etc/os-release"}) {
    const auto* prepared = prepared_at(plan, target);
    BOOST_TEST_REQUIRE(prepared != nullptr, target);
    BOOST_TEST(!prepared->layered, target);
  }
  // Landlock lets the task write there, and nowhere new.
  BOOST_TEST((landlock_access(plan, "/var") & landlock::kWriteFile) != 0u);
  BOOST_TEST((landlock_access(plan, "/etc/nginx") & landlock::kMakeReg) != 0u);
  BOOST_TEST((landlock_access(plan, "/") & landlock::kMakeDir) == 0u);
  // The summary, its lines and so the digest say it.
  const auto summary = plan_summary(plan);
  BOOST_TEST(summary.at("rootfs").at("writable_layer").at("size_bytes") == 8u << 20);
  const auto lines = plan_summary_lines(plan);
  BOOST_TEST(std::any_of(lines.begin(), lines.end(), [](const auto& line) {
    return line.find("writable: its writes land in a layer of 8M") != std::string::npos;
  }));
  // A prepared sandbox of it is another one than of a read-only root.
  BOOST_TEST(prepared_key(plan) != prepared_key(container_plan(tier, true)));
}

BOOST_AUTO_TEST_CASE(read_only_without_the_field_or_with_root_readonly) {
  TempDir dir;
  const auto untrusted = load_tier("untrusted", {kShipped});
  const auto writable_tier = load_text(dir, kWritableTier);
  for (const auto& plan : {container_plan(untrusted, false), container_plan(writable_tier, true)}) {
    BOOST_TEST(!plan.root_layer.has_value());
    BOOST_TEST(!prepared_at(plan, "var")->layered);
    BOOST_TEST((landlock_access(plan, "/var") & landlock::kWriteFile) == 0u);
    BOOST_TEST(!plan_summary(plan).at("rootfs").contains("writable_layer"));
  }
  // The same bundle's plan under untrusted is what it was before the field:
  // a plain tier's digest does not change (tests/unit/test_shipped_plans.cpp).
  BOOST_TEST(plan_digest(container_plan(untrusted, false)) == plan_digest(container_plan(untrusted, true)));
  // The bundle hears why its root stays read-only.
  const auto narrowed = oci::narrow_to_tier(oci::parse_spec(bundle(false), "/b/config.json"), untrusted, "/b", "c1", "");
  BOOST_TEST(std::any_of(narrowed.notes.begin(), narrowed.notes.end(), [](const auto& note) {
    return note.find("has no container.writable_root") != std::string::npos;
  }));
  // A plain run on an image tier with the field is never layered.
  const auto image_tier =
      load_text(dir, R"({"extends": "sealed", "container": {"writable_root": true}, "limits": {"disk": "8M"}})", "img");
  TaskRequest request;
  request.argv = {"/bin/true"};
  auto facts = container_facts();
  facts.rootfs_image->name = "minimal";
  const auto plain = make_plan(image_tier, request, facts, "r2");
  BOOST_TEST(!plain.root_layer.has_value());
  BOOST_TEST(std::none_of(plain.prepared_mounts.begin(), plain.prepared_mounts.end(),
                          [](const auto& prepared) { return prepared.layered; }));
}

BOOST_AUTO_TEST_CASE(diff_final_and_explain) {
  TempDir dir;
  const auto before = load_text(dir, R"({"extends": "untrusted", "limits": {"disk": "8M"}})", "before");
  const auto after = load_text(dir, kWritableTier, "after");
  const auto changes = compare_profiles(before, after);
  const auto change = std::find_if(changes.begin(), changes.end(),
                                   [](const Change& c) { return c.field == "container.writable_root"; });
  BOOST_TEST_REQUIRE((change != changes.end()));
  BOOST_TEST((change->effect == Effect::widens));
  const auto back = compare_profiles(after, before);
  BOOST_TEST(std::any_of(back.begin(), back.end(), [](const Change& c) {
    return c.field == "container.writable_root" && c.effect == Effect::narrows;
  }));
  // final: a child may drop it, not add it.
  dir.write("tiers/sealedroot.json", R"({"extends": "untrusted", "limits": {"disk": "8M"}, "final": ["container.writable_root"]})");
  BOOST_TEST(!load_text(dir, R"({"extends": "sealedroot"})").container.writable_root);  // the control
  const auto message = load_error(dir, R"({"extends": "sealedroot", "container": {"writable_root": true}})");
  BOOST_TEST(message.find("/container/writable_root: widens container.writable_root") != std::string::npos, message);
  // explain names the layer and its size.
  std::string text;
  for (const auto& section : explain_profile(after, {}))
    for (const auto& line : section.lines) text += line + "\n";
  BOOST_TEST(text.find("WRITABLE through a per-container overlay") != std::string::npos, text);
  BOOST_TEST(text.find("layer of 8M") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(the_layer_tmpfs_is_bounded_in_bytes_and_inodes) {
  BOOST_TEST(stages::root_layer_tmpfs_options(8u << 20) == "mode=0700,size=8388608,nr_inodes=16384");
  BOOST_TEST(stages::root_layer_tmpfs_options(1ULL << 30) == "mode=0700,size=1073741824,nr_inodes=1048576");
  // The directories made ahead come on top of the layer's own bound.
  BOOST_TEST(stages::root_layer_tmpfs_options(8u << 20, 100) == "mode=0700,size=8388608,nr_inodes=16484");
}

// The directories made ahead (an overlayfs root.path) are the runner's
// kernel memory, not the task's: bounded by the layer's size (one per KiB),
// so an image with a million directories cannot make the runner hold 64 MiB
// for a container whose tier gives it a 1M layer.
BOOST_AUTO_TEST_CASE(directories_made_ahead_are_bounded_by_the_layers_size) {
  BOOST_TEST(stages::mirrored_directory_budget(1u << 20) == 1024u);
  BOOST_TEST(stages::mirrored_directory_budget(8u << 20) == 8192u);
  BOOST_TEST(stages::mirrored_directory_budget(64u << 20) == 65536u);
  BOOST_TEST(stages::mirrored_directory_budget(1ULL << 40) == 65536u);
  BOOST_TEST(stages::mirrored_directory_budget(4096) == 1024u);
}

BOOST_AUTO_TEST_CASE(a_layered_tree_keeps_nosuid_nodev_and_is_not_remounted_read_only) {
  PreparedMount layered{PreparedMount::Kind::host_path, "/b/rootfs/var", true};
  layered.layered = true;
  // The overlay that replaces it is writable; its lower layer stays sealed.
  BOOST_TEST((stages::prepared_mount_remount_flags(layered) & MS_RDONLY) == 0u);
  BOOST_TEST((stages::prepared_mount_remount_flags(layered) & (MS_NOSUID | MS_NODEV)) == (MS_NOSUID | MS_NODEV));
  BOOST_TEST((stages::prepared_mount_attributes(layered) & MOUNT_ATTR_RDONLY) != 0u);
  layered.layered = false;  // the control: a plain image tree
  BOOST_TEST((stages::prepared_mount_remount_flags(layered) & MS_RDONLY) != 0u);
}

BOOST_AUTO_TEST_SUITE_END()
