// The review of a writable workspace after the task: git's index read for
// gitlinks (versions 2-4, SHA-1 and SHA-256, built here byte by byte as
// gitformat-index(5) lays them out), which gitdir files point into the
// superproject's protected .git/modules/, and the exec lines of a todo list.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "launch/workspace_review.h"
#include "policy/git_index.h"

using namespace tierbox;

namespace {

constexpr std::uint32_t kFile = 0100644;
constexpr std::uint32_t kGitlink = 0160000;

void put32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

void put16(std::string& out, std::uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xFF));
}

// git's varint.c encoding.
std::string varint(std::uint64_t value) {
  unsigned char bytes[16];
  unsigned position = sizeof bytes - 1;
  bytes[position] = value & 127;
  while (value >>= 7) bytes[--position] = static_cast<unsigned char>(128 | (--value & 127));
  return std::string(reinterpret_cast<char*>(bytes + position), sizeof bytes - position);
}

struct Entry {
  std::uint32_t mode;
  std::string path;
  bool extended = false;
};

std::string index_of(std::uint32_t version, std::size_t hash_size, const std::vector<Entry>& entries,
                     const std::string& extension = "") {
  std::string out = "DIRC";
  put32(out, version);
  put32(out, static_cast<std::uint32_t>(entries.size()));
  std::string previous;
  for (const auto& entry : entries) {
    const std::size_t start = out.size();
    for (int field = 0; field < 10; ++field) put32(out, field == 6 ? entry.mode : 7);
    out.append(hash_size, '\x5a');
    const auto length = static_cast<std::uint16_t>(entry.path.size() < 0xFFF ? entry.path.size() : 0xFFF);
    put16(out, static_cast<std::uint16_t>((entry.extended ? 0x4000 : 0) | length));
    if (entry.extended) put16(out, 0x2000);  // intent-to-add
    if (version == 4) {
      std::size_t common = 0;
      while (common < previous.size() && common < entry.path.size() && previous[common] == entry.path[common]) ++common;
      out += varint(previous.size() - common);
      out += entry.path.substr(common);
      out.push_back('\0');
    } else {
      out += entry.path;
      const std::size_t padded = ((out.size() - start) + 8) & ~static_cast<std::size_t>(7);
      out.append(start + padded - out.size(), '\0');
    }
    previous = entry.path;
  }
  out += extension;
  out.append(hash_size, '\x11');  // the checksum (not verified)
  return out;
}

std::string tree_extension() {
  const std::string data = std::string("\0", 1) + "1 0\n" + std::string(20, '\x22');
  std::string out = "TREE";
  put32(out, static_cast<std::uint32_t>(data.size()));
  return out + data;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(git_index)

BOOST_AUTO_TEST_CASE(gitlinks_are_found_in_every_index_version) {
  const std::vector<Entry> entries = {{kFile, "README"}, {kGitlink, "vendor/evil"}, {kFile, "vendor/evil2/x"},
                                      {kGitlink, "z"}};
  for (std::uint32_t version : {2U, 3U, 4U}) {
    auto links = policy::read_gitlinks(index_of(version, 20, entries));
    BOOST_TEST(links.error == "", "version " << version);
    BOOST_TEST((links.gitlinks == std::vector<std::string>{"vendor/evil", "z"}), "version " << version);
  }
}

BOOST_AUTO_TEST_CASE(extended_flags_sha256_extensions_and_long_prefixes) {
  // Version 3 with an intent-to-add entry (extended flags).
  auto v3 = policy::read_gitlinks(index_of(3, 20, {{kFile, "a", true}, {kGitlink, "b"}}));
  BOOST_TEST(v3.error == "");
  BOOST_TEST((v3.gitlinks == std::vector<std::string>{"b"}));
  // A SHA-256 repository: 32-byte hashes.
  for (std::uint32_t version : {2U, 4U}) {
    auto sha256 = policy::read_gitlinks(index_of(version, 32, {{kFile, "src/main.c"}, {kGitlink, "lib/sub"}}));
    BOOST_TEST(sha256.error == "", "version " << version);
    BOOST_TEST((sha256.gitlinks == std::vector<std::string>{"lib/sub"}));
  }
  // An extension after the entries.
  auto tree = policy::read_gitlinks(index_of(2, 20, {{kGitlink, "m"}}, tree_extension()));
  BOOST_TEST(tree.error == "");
  BOOST_TEST((tree.gitlinks == std::vector<std::string>{"m"}));
  // Version 4 removing more than 127 bytes of the previous path (a varint of two bytes).
  const std::string deep(200, 'd');
  auto v4 = policy::read_gitlinks(index_of(4, 20, {{kFile, deep + "/file"}, {kGitlink, "e"}}));
  BOOST_TEST(v4.error == "");
  BOOST_TEST((v4.gitlinks == std::vector<std::string>{"e"}));
}

BOOST_AUTO_TEST_CASE(damaged_indexes_are_errors_not_guesses) {
  const auto good = index_of(2, 20, {{kFile, "README"}, {kGitlink, "sub"}});
  BOOST_TEST(policy::read_gitlinks(good.substr(0, good.size() - 30)).error != "");
  BOOST_TEST(policy::read_gitlinks(good + "junk").error != "");
  BOOST_TEST(policy::read_gitlinks("DIRX" + good.substr(4)).error.find("DIRC") != std::string::npos);
  auto version5 = good;
  version5[7] = 5;
  BOOST_TEST(policy::read_gitlinks(version5).error.find("version 5") != std::string::npos);
  // Version 4: a prefix longer than the previous path.
  auto v4 = index_of(4, 20, {{kFile, "ab"}, {kGitlink, "ac"}});
  const auto at = v4.find(std::string("\x01" "c\0", 3));
  BOOST_REQUIRE(at != std::string::npos);
  v4[at] = 9;
  BOOST_TEST(policy::read_gitlinks(v4).error.find("prefix") != std::string::npos);
  BOOST_TEST(policy::read_gitlinks("").error != "");
}

BOOST_AUTO_TEST_CASE(only_gitdirs_inside_the_superprojects_modules_are_absorbed) {
  const std::string workspace = "/home/dev/repo";
  BOOST_TEST(launch::gitdir_is_absorbed(workspace, "sub", "../.git/modules/sub"));
  BOOST_TEST(launch::gitdir_is_absorbed(workspace, "a/b", "../../.git/modules/a/b"));
  BOOST_TEST(launch::gitdir_is_absorbed(workspace, "a/b", "/home/dev/repo/.git/modules/b"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "../.cache/evil"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "../.git/modules"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "../../outside/.git/modules/sub"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "/home/dev/repo2/.git/modules/sub"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "/tmp/evil"));
  BOOST_TEST(!launch::gitdir_is_absorbed(workspace, "sub", "../.git/modules/../config"));
}

BOOST_AUTO_TEST_CASE(exec_lines_of_a_todo_list_are_its_commands) {
  const std::string todo = "pick 1a2b3c fix\nexec make test\n# exec not this, a comment\n  x   echo hi  \r\n"
                           "break\nexec\nexecute nothing\nfixup 4d5e6f more\n\n";
  BOOST_TEST((launch::todo_commands(todo) == std::vector<std::string>{"make test", "echo hi"}));
  BOOST_TEST(launch::todo_commands("pick 1a2b3c x\nbreak\n").empty());
  BOOST_TEST(launch::todo_commands("").empty());
}

BOOST_AUTO_TEST_CASE(a_review_spells_out_control_characters_and_never_blocks_on_a_fifo) {
  // The task chose the gitlink's name: an escape sequence in it must not
  // reach the developer's terminal.
  testing::TempDir workspace;
  const std::string hostile = "a\x1b[2Jb";
  workspace.write(".git/index", index_of(2, 20, {{kGitlink, hostile}}));
  workspace.write(hostile + "/.git/config", "[core]\n");
  auto warnings = launch::review_workspace(workspace.str(), {});
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].text.find('\x1b') == std::string::npos, warnings[0].text);
  BOOST_TEST(warnings[0].text.find("a\\x1b[2Jb: a git repository of its own") != std::string::npos, warnings[0].text);
  // Nothing changed since the stamp: nothing read, nothing reported.
  BOOST_TEST(launch::review_workspace(workspace.str(), launch::stamp_git_state(workspace.str())).empty());
  // A FIFO where the index was: reported as unreadable, not waited on.
  std::filesystem::remove(workspace.path() / ".git/index");
  BOOST_REQUIRE(::mkfifo((workspace.path() / ".git/index").c_str(), 0600) == 0);
  warnings = launch::review_workspace(workspace.str(), {});
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].text.find("could not be read") != std::string::npos, warnings[0].text);
}

BOOST_AUTO_TEST_SUITE_END()
