// Root filesystem images: manifests and their comparison, path checks,
// extraction (with libarchive; tar archives made here with the tar command),
// the `rootfs` field, and how the planner builds an image tier's root.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <fstream>

#include "common/errors.h"
#include "common/temp_dir.h"
#include "policy/plan_summary.h"
#include "policy/planner.h"
#include "policy/review/review.h"
#include "policy/rootfs_status.h"
#include "profile_text.h"
#include "rootfs/archive_extract.h"
#include "rootfs/manifest.h"
#include "rootfs/recipe_build.h"
#include "rootfs/store.h"
#include "rootfs/tree_scan.h"

using namespace tierbox;
using namespace tierbox::rootfs;
using namespace tierbox::testing;
namespace fs = std::filesystem;
using Kind = policy::MountOp::Kind;

namespace {

ManifestEntry file_entry(const std::string& path, const std::string& sha256, std::uint64_t size = 3) {
  ManifestEntry entry;
  entry.path = path;
  entry.kind = EntryKind::file;
  entry.mode = 0555;
  entry.size = size;
  entry.sha256 = sha256;
  return entry;
}

std::string kinds(const std::vector<Difference>& differences) {
  std::string out;
  for (const auto& difference : differences) out += std::string(to_string(difference.kind)) + " " + difference.path + ";";
  return out;
}

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');

policy::HostFacts image_host(const std::string& digest = kDigestA) {
  policy::HostFacts facts;
  facts.landlock_abi = 7;
  policy::RootfsImageFacts image{"minimal", digest, "/var/lib/tierbox/rootfs/images/aaaa/tree", {}, {}};
  image.top = {{"bin", EntryKind::directory, ""}, {"etc", EntryKind::directory, ""}, {"tmp", EntryKind::directory, ""},
               {"proc", EntryKind::directory, ""}, {"sbin", EntryKind::symlink, "bin"}};
  image.etc = {{"passwd", EntryKind::file, ""}, {"profile", EntryKind::file, ""}};
  facts.rootfs_image = image;
  return facts;
}

// A minimal valid image tier: the metadata every tier needs, and rootfs.
std::string image_tier(const std::string& rootfs) {
  return R"({"owner": "o", "reviewed_by": "r", "reviewed_on": "2026-12-01", "review_by": "2099-01-01",
            "max_data_class": "internal", "landlock": "off", "rootfs": ")" + rootfs + R"("})";
}

policy::TaskRequest request_of(std::vector<std::string> argv) {
  policy::TaskRequest request;
  request.argv = std::move(argv);
  return request;
}

// Runs tar (the host's GNU tar) in dir; archives for the extraction tests.
void tar(const fs::path& dir, const std::string& arguments) {
  const auto command = "cd '" + dir.string() + "' && tar " + arguments + " 2>/dev/null";
  BOOST_REQUIRE_EQUAL(std::system(command.c_str()), 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_manifest)

BOOST_AUTO_TEST_CASE(compare_names_modified_added_and_removed_files) {
  Manifest expected{{file_entry("bin/a", "1"), file_entry("bin/b", "2"), file_entry("bin/c", "3")}};
  Manifest actual{{file_entry("bin/a", "1"), file_entry("bin/b", "9"), file_entry("bin/d", "4")}};
  auto differences = compare(expected, actual);
  BOOST_TEST(kinds(differences) == "modified bin/b;removed bin/c;added bin/d;");
  BOOST_TEST(differences[0].detail == "sha256");
  // Control: equal manifests, no difference, and one digest.
  BOOST_TEST(compare(expected, expected).empty());
  BOOST_TEST(manifest_digest(expected) != manifest_digest(actual));
  BOOST_TEST(manifest_digest(expected) == manifest_digest(manifest_from_json(to_json(expected), "m")));
}

BOOST_AUTO_TEST_CASE(a_mode_or_owner_change_is_a_modification) {
  Manifest expected{{file_entry("bin/a", "1")}};
  Manifest actual = expected;
  actual.entries[0].mode = 04555;
  actual.entries[0].uid = 1000;
  BOOST_TEST(compare(expected, actual).at(0).detail == "mode, owner");
}

BOOST_AUTO_TEST_CASE(names_outside_the_image_are_refused) {
  BOOST_TEST(normalize_image_path("./usr//bin/").value_or("") == "usr/bin");
  BOOST_TEST(!normalize_image_path("/etc/passwd"));
  BOOST_TEST(!normalize_image_path("usr/../../etc"));
  BOOST_TEST(!normalize_image_path(".."));
  BOOST_TEST(!normalize_image_path("./"));
}

BOOST_AUTO_TEST_CASE(a_manifest_with_an_escaping_path_does_not_load) {
  auto document = to_json(Manifest{{file_entry("bin/a", "1")}});
  document["entries"][0]["path"] = "../etc/shadow";
  BOOST_CHECK_THROW(manifest_from_json(document, "m.json"), Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rootfs_extract)

BOOST_AUTO_TEST_CASE(a_tarball_is_unpacked_with_setuid_stripped_and_recorded) {
  TempDir source, tree;
  source.write("root/bin/tool", "#!/bin/sh\n");
  ::chmod((source.path() / "root/bin/tool").c_str(), 04755);
  fs::create_symlink("tool", source.path() / "root/bin/link");
  tar(source.path() / "root", "-cf ../image.tar .");
  ExtractReport report;
  extract_archive(source.path() / "image.tar", tree.path(), false, report);
  struct stat st {};
  BOOST_REQUIRE(::lstat((tree.path() / "bin/tool").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0755u);
  BOOST_TEST(report.stripped.size() == 1u);
  BOOST_TEST(report.stripped.at(0) == "bin/tool: setuid removed");
  BOOST_TEST(fs::read_symlink(tree.path() / "bin/link") == "tool");
}

BOOST_AUTO_TEST_CASE(dotdot_and_absolute_names_are_refused) {
  TempDir source, tree;
  source.write("a/x", "x");
  tar(source.path() / "a", "-cf ../dotdot.tar --transform='s,^\\./x,../escaped,' ./x");
  ExtractReport report;
  BOOST_CHECK_THROW(extract_archive(source.path() / "dotdot.tar", tree.path(), false, report), Error);
  BOOST_TEST(!fs::exists(tree.path().parent_path() / "escaped"));
  tar(source.path() / "a", "-cf ../absolute.tar -P --transform='s,^\\./x,/tmp/tierbox-escaped-abs,' ./x");
  BOOST_CHECK_THROW(extract_archive(source.path() / "absolute.tar", tree.path(), false, report), Error);
  BOOST_TEST(!fs::exists("/tmp/tierbox-escaped-abs"));
}

// A symlink to a host directory, then a file "through" it: written nowhere
// outside the tree (libarchive's secure-symlink check refuses it).
BOOST_AUTO_TEST_CASE(nothing_is_written_through_a_symlink) {
  TempDir source, tree, outside;
  fs::create_directories(source.path() / "l1");
  fs::create_symlink(outside.path(), source.path() / "l1/link");
  tar(source.path() / "l1", "-cf ../layer1.tar ./link");
  source.write("l2/link/planted", "x");
  tar(source.path() / "l2", "-cf ../layer2.tar ./link/planted");
  ExtractReport report;
  extract_archive(source.path() / "layer1.tar", tree.path(), false, report);
  try {
    extract_archive(source.path() / "layer2.tar", tree.path(), false, report);
  } catch (const Error&) {
  }
  BOOST_TEST(!fs::exists(outside.path() / "planted"));
}

// A hard link through a symlink to a host file would put the host's inode
// (e.g. /etc/shadow) into the image: refused, no link made.
BOOST_AUTO_TEST_CASE(a_hard_link_through_a_symlink_is_refused) {
  TempDir source, tree, outside;
  outside.write("secret", "s");
  fs::create_directories(source.path() / "h");
  fs::create_symlink(outside.path(), source.path() / "h/l");
  tar(source.path() / "h", "-cf ../links.tar ./l");
  // GNU tar cannot write a hard link to a path through a symlink; append one by hand.
  BOOST_REQUIRE(std::system(("python3 -c \"import tarfile; t = tarfile.open('" + source.str() +
                             "/links.tar', 'a'); i = tarfile.TarInfo('h'); i.type = tarfile.LNKTYPE; "
                             "i.linkname = 'l/secret'; t.addfile(i); t.close()\"").c_str()) == 0);
  ExtractReport report;
  BOOST_CHECK_THROW(extract_archive(source.path() / "links.tar", tree.path(), false, report), Error);
  BOOST_TEST(!fs::exists(tree.path() / "h"));
}

BOOST_AUTO_TEST_CASE(a_device_node_is_refused) {
  TempDir source, tree;
  fs::create_directories(source.path() / "d");
  BOOST_REQUIRE(::mknod((source.path() / "d/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  tar(source.path() / "d", "-cf ../device.tar ./null");
  ExtractReport report;
  BOOST_CHECK_THROW(extract_archive(source.path() / "device.tar", tree.path(), false, report), Error);
  BOOST_TEST(!fs::exists(tree.path() / "null"));
}

BOOST_AUTO_TEST_CASE(whiteouts_remove_lower_layers_content) {
  TempDir source, tree;
  source.write("l1/etc/keep", "k");
  source.write("l1/etc/gone", "g");
  source.write("l1/opaque/old", "o");
  tar(source.path() / "l1", "-cf ../layer1.tar .");
  source.write("l2/etc/.wh.gone", "");
  source.write("l2/opaque/.wh..wh..opq", "");
  source.write("l2/opaque/new", "n");
  tar(source.path() / "l2", "-cf ../layer2.tar .");
  ExtractReport report;
  extract_archive(source.path() / "layer1.tar", tree.path(), true, report);
  extract_archive(source.path() / "layer2.tar", tree.path(), true, report);
  BOOST_TEST(fs::exists(tree.path() / "etc/keep"));
  BOOST_TEST(!fs::exists(tree.path() / "etc/gone"));
  BOOST_TEST(!fs::exists(tree.path() / "etc/.wh.gone"));
  BOOST_TEST(!fs::exists(tree.path() / "opaque/old"));
  BOOST_TEST(fs::exists(tree.path() / "opaque/new"));  // the same layer's entry stays
}

// ".wh..." would name the layer directory's parent: refused, nothing removed.
BOOST_AUTO_TEST_CASE(a_whiteout_of_dot_or_dotdot_is_refused) {
  TempDir source, tree;
  tree.write("etc/keep", "k");
  source.write("l/etc/.wh...", "");
  tar(source.path() / "l", "-cf ../layer.tar .");
  ExtractReport report;
  BOOST_CHECK_THROW(extract_archive(source.path() / "layer.tar", tree.path(), true, report), Error);
  BOOST_TEST(fs::exists(tree.path() / "etc/keep"));
}

BOOST_AUTO_TEST_CASE(scan_and_seal_give_a_root_owned_read_only_tree) {
  TempDir tree;
  tree.write("bin/tool", "abc");
  ::chmod((tree.path() / "bin/tool").c_str(), 06775);
  seal_tree(tree.path());
  auto manifest = scan_tree(tree.path());
  BOOST_REQUIRE_EQUAL(manifest.entries.size(), 2u);
  BOOST_TEST(manifest.entries[1].path == "bin/tool");
  BOOST_TEST(manifest.entries[1].mode == 0555u);
  BOOST_TEST(manifest.entries[1].size == 3u);
  BOOST_TEST(manifest.entries[1].sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A launch hashes the manifest's bytes when they are the canonical JSON,
// parses an older indented one, and refuses either once changed; the root's
// entries come from the tree, unhashed.
BOOST_AUTO_TEST_CASE(the_launch_check_of_a_manifest_and_the_roots_entries) {
  TempDir store_dir;
  store_dir.write("tree/bin/tool", "abc");
  store_dir.write("tree/etc/hosts", "h");
  fs::create_directory_symlink("bin", store_dir.path() / "tree/sbin");
  const auto manifest = scan_tree(store_dir.path() / "tree");
  const auto digest = manifest_digest(manifest);
  const Store store(store_dir.path() / "store");
  const auto image = store.image_dir(digest);
  fs::create_directories(image);
  const auto write_manifest = [&](const std::string& text) { std::ofstream(image / "manifest.json", std::ios::trunc) << text; };
  write_manifest(to_json(manifest).dump());
  BOOST_CHECK_NO_THROW(store.check_manifest(digest));
  write_manifest(to_json(manifest).dump(1) + "\n");  // an older store's form
  BOOST_CHECK_NO_THROW(store.check_manifest(digest));
  auto changed = manifest;
  changed.entries[0].mode = 0777;
  for (const auto& text : {to_json(changed).dump(), to_json(changed).dump(1)}) {
    write_manifest(text);
    BOOST_CHECK_THROW(store.check_manifest(digest), Error);
  }
  const auto top = scan_directory(store_dir.path() / "tree", "");
  BOOST_REQUIRE_EQUAL(top.size(), 3u);
  BOOST_TEST(top[0].path == "bin");
  BOOST_TEST((top[2].kind == EntryKind::symlink && top[2].link == "bin"));
  const auto etc = scan_directory(store_dir.path() / "tree", "etc");
  BOOST_REQUIRE_EQUAL(etc.size(), 1u);
  BOOST_TEST(etc[0].path == "etc/hosts");
  BOOST_TEST(etc[0].sha256.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rootfs_tier)

BOOST_AUTO_TEST_CASE(the_field_parses_host_images_and_pins) {
  BOOST_TEST(!policy::parse_rootfs("host")->is_image());
  BOOST_TEST(policy::parse_rootfs("image:minimal")->image == "minimal");
  BOOST_TEST(policy::parse_rootfs("image:minimal@" + kDigestA)->pinned_digest == kDigestA);
  BOOST_TEST(!policy::parse_rootfs("image:minimal@sha256:abc"));
  BOOST_TEST(!policy::parse_rootfs("image:../x"));
  BOOST_TEST(!policy::parse_rootfs("docker:minimal"));
  expect_error(R"({"rootfs": "image:"})", {"/rootfs", "image:NAME"});
}

BOOST_AUTO_TEST_CASE(an_image_tier_binds_no_host_tree) {
  expect_error(R"({"extends": "base", "rootfs": "image:minimal"})", {"/mounts/0", "/usr", "image tier", "base.json"});
  TempDir dir;
  auto sealed = policy::load_profile_file(kShipped / "tiers/sealed.json", {kShipped});
  BOOST_TEST(sealed.rootfs.image == "minimal");
  BOOST_TEST(std::none_of(sealed.mounts.begin(), sealed.mounts.end(),
                          [](const auto& mount) { return mount.type == policy::MountType::bind; }));
}

BOOST_AUTO_TEST_CASE(the_plan_mounts_the_image_read_only_and_no_host_path) {
  auto sealed = policy::load_profile_file(kShipped / "tiers/sealed.json", {kShipped});
  auto plan = policy::make_plan(sealed, request_of({"sh"}), image_host(), "r1");
  BOOST_REQUIRE(plan.rootfs_image);
  BOOST_TEST(plan.rootfs_image->digest == kDigestA);
  for (const auto& prepared : plan.prepared_mounts) {
    const bool from_image = prepared.source.rfind("/var/lib/tierbox/rootfs/images/aaaa/tree/", 0) == 0;
    const bool device = prepared.source.rfind("/dev/", 0) == 0;
    BOOST_TEST((from_image || device), prepared.source);
    if (from_image) BOOST_TEST(prepared.read_only);
  }
  const auto has = [&](Kind kind, const std::string& target) {
    return std::any_of(plan.mount_ops.begin(), plan.mount_ops.end(),
                       [&](const auto& op) { return op.kind == kind && op.target == target; });
  };
  BOOST_TEST(has(Kind::attach_prepared, "bin"));
  BOOST_TEST(has(Kind::symlink, "sbin"));
  BOOST_TEST(has(Kind::attach_prepared, "etc/profile"));
  BOOST_TEST(!has(Kind::attach_prepared, "etc/passwd"));  // tierbox's own
  BOOST_TEST(has(Kind::file, "etc/passwd"));
  BOOST_TEST(!has(Kind::attach_prepared, "tmp"));  // the tier's tmpfs instead
  BOOST_TEST(has(Kind::tmpfs, "tmp"));
  BOOST_TEST(!has(Kind::attach_prepared, "proc"));
  BOOST_TEST(policy::plan_summary(plan)["rootfs"]["digest"] == kDigestA);
}

BOOST_AUTO_TEST_CASE(a_pinned_digest_that_differs_refuses_naming_both) {
  TempDir dir;
  auto tier = load_text(dir, image_tier("image:minimal@" + kDigestA));
  try {
    policy::make_plan(tier, request_of({"sh"}), image_host(kDigestB), "r1");
    BOOST_ERROR("no refusal");
  } catch (const Refusal& refusal) {
    const std::string message = refusal.what();
    BOOST_TEST(message.find(kDigestA) != std::string::npos, message);
    BOOST_TEST(message.find(kDigestB) != std::string::npos, message);
  }
  // Control: the pinned digest itself runs.
  BOOST_CHECK_NO_THROW(policy::make_plan(tier, request_of({"sh"}), image_host(kDigestA), "r1"));
}

BOOST_AUTO_TEST_CASE(a_missing_image_fails_with_the_fix) {
  TempDir dir;
  auto tier = load_text(dir, image_tier("image:minimal"));
  auto host = image_host();
  host.rootfs_image.reset();
  try {
    policy::make_plan(tier, request_of({"sh"}), host, "r1");
    BOOST_ERROR("no error");
  } catch (const Error& error) {
    BOOST_TEST(std::string(error.what()).find("tierbox rootfs build minimal") != std::string::npos, error.what());
  }
}

BOOST_AUTO_TEST_CASE(the_image_digest_changes_the_plan_digest) {
  TempDir dir;
  auto tier = load_text(dir, image_tier("image:minimal"));
  auto a = policy::make_plan(tier, request_of({"sh"}), image_host(kDigestA), "r1");
  auto b = policy::make_plan(tier, request_of({"sh"}), image_host(kDigestB), "r1");
  BOOST_TEST(policy::plan_digest(a) != policy::plan_digest(b));
}

BOOST_AUTO_TEST_CASE(check_flags_a_missing_unpinned_or_changed_image) {
  auto spec = *policy::parse_rootfs("image:minimal@" + kDigestA);
  BOOST_TEST(!policy::rootfs_status(spec, kDigestA, "/s"));
  auto changed = policy::rootfs_status(spec, kDigestB, "/s");
  BOOST_TEST((changed && changed->error && changed->message.find(kDigestB) != std::string::npos));
  auto missing = policy::rootfs_status(spec, std::nullopt, "/s");
  BOOST_TEST((missing && !missing->error && missing->message.find("rootfs build minimal") != std::string::npos));
  auto unpinned = policy::rootfs_status(*policy::parse_rootfs("image:minimal"), kDigestA, "/s");
  BOOST_TEST((unpinned && !unpinned->error && unpinned->message.find("not pinned") != std::string::npos));
  BOOST_TEST(!policy::rootfs_status(*policy::parse_rootfs("host"), std::nullopt, "/s"));
  // Unpinned: an image made after the tier's last review is named as changed.
  const auto reviewed = policy::parse_date("2026-12-01");
  auto after = policy::rootfs_status(*policy::parse_rootfs("image:minimal"), kDigestA, "/s", "2026-12-07T05:00:00Z", reviewed);
  BOOST_TEST((after && !after->error), "no status");
  BOOST_TEST(after->message.find("changed since the tier was last reviewed: made 2026-12-07, reviewed_on 2026-12-01") != std::string::npos,
             after->message);
  auto before = policy::rootfs_status(*policy::parse_rootfs("image:minimal"), kDigestA, "/s", "2026-11-30T23:59:59Z", reviewed);
  BOOST_TEST(before->message.find("changed since") == std::string::npos, before->message);
}

BOOST_AUTO_TEST_CASE(diff_reports_a_changed_image) {
  TempDir dir;
  auto before = load_text(dir, image_tier("image:minimal"), "a");
  auto after = load_text(dir, image_tier("image:minimal@" + kDigestA), "b");
  auto changes = policy::compare_profiles(before, after);
  auto found = std::find_if(changes.begin(), changes.end(), [](const auto& change) { return change.field == "rootfs"; });
  BOOST_REQUIRE(found != changes.end());
  BOOST_TEST((found->effect == policy::Effect::narrows));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rootfs_recipes)

// The shipped recipes load; debian's builds the host's release with the
// three packages the issue names, through mmdebstrap, without /dev nodes.
BOOST_AUTO_TEST_CASE(the_shipped_debian_recipe_gives_mmdebstraps_arguments) {
  const auto recipe = load_recipe(fs::path(TIERBOX_SOURCE_DIR) / "rootfs/debian.json");
  BOOST_TEST(recipe.builder == "mmdebstrap");
  BOOST_TEST(recipe.suite == "host");
  const auto argv = mmdebstrap_argv(recipe, "bookworm", "/tmp/out.tar");
  const std::vector<std::string> expected = {"mmdebstrap", "--mode=root", "--variant=minbase", "--format=tar",
                                             "--skip=output/dev", "--quiet",
                                             "--include=python3,git,ca-certificates", "bookworm", "/tmp/out.tar"};
  BOOST_TEST(argv == expected, boost::test_tools::per_element());
  BOOST_TEST(load_recipe(fs::path(TIERBOX_SOURCE_DIR) / "rootfs/minimal.json").builder == "busybox-static");
}

BOOST_AUTO_TEST_CASE(the_host_suite_is_the_debian_codename) {
  BOOST_TEST(host_debian_codename("PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_CODENAME=bookworm\n", "r.json") == "bookworm");
  try {
    host_debian_codename("ID=ubuntu\nVERSION_CODENAME=noble\n", "r.json");
    BOOST_FAIL("a non-Debian host was taken");
  } catch (const Error& error) {
    BOOST_TEST(std::string(error.what()).find("r.json: /suite") != std::string::npos, error.what());
    BOOST_TEST(std::string(error.what()).find("ID=ubuntu") != std::string::npos, error.what());
  }
}

// A package that mmdebstrap would read as an option, or an unknown variant,
// is refused naming the file and the field.
BOOST_AUTO_TEST_CASE(a_bad_debian_recipe_is_refused_naming_the_field) {
  TempDir dir;
  const auto refused = [&](const std::string& text, const std::string& field) {
    const auto file = dir.write("bad.json", text);
    try {
      load_recipe(file);
      BOOST_ERROR("accepted: " + text);
    } catch (const Error& error) {
      BOOST_TEST(std::string(error.what()).find(file.string() + ": " + field) != std::string::npos, error.what());
    }
  };
  refused(R"({"builder": "mmdebstrap", "packages": ["--hook-dir=/x"]})", "/packages");
  refused(R"({"builder": "mmdebstrap", "packages": "git"})", "/packages");
  refused(R"({"builder": "mmdebstrap", "variant": "everything"})", "/variant");
  refused(R"({"builder": "mmdebstrap", "suite": "-x"})", "/suite");
  refused(R"({"builder": "debootstrap"})", "/builder");
}

BOOST_AUTO_TEST_SUITE_END()
