#include "rootfs/recipe_build.h"

#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "rootfs/archive_extract.h"
#include "rootfs/image_import.h"
#include "rootfs/manifest.h"

namespace tierbox::rootfs {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::string> strings_of(const json& document, const char* key, const fs::path& file) {
  if (!document.contains(key)) return {};
  std::vector<std::string> out;
  for (const auto& value : document[key]) {
    if (!value.is_string()) throw Error(file.string() + ": /" + key + ": expected an array of strings", exit_code::runner_failed);
    auto path = normalize_image_path(value.get<std::string>());
    if (!path) throw Error(file.string() + ": /" + key + ": " + value.dump() + " is not a relative path inside the image", exit_code::runner_failed);
    out.push_back(*path);
  }
  return out;
}

// Runs argv (no shell), in directory; throws naming the command when it fails.
void run_program(const std::vector<std::string>& argv, const fs::path& directory) {
  const pid_t pid = ::fork();
  if (pid < 0) throw_sys_error("fork()");
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    if (::chdir(directory.c_str()) == 0) ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_sys_error("waitpid()");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " failed (status " + std::to_string(status) +
                    ") in " + directory.string(),
                exit_code::runner_failed);
}

// The static busybox: the host's if it is the static build, else Debian's
// package unpacked into work (never installed).
fs::path static_busybox(const fs::path& work) {
  for (const char* candidate : {"/bin/busybox", "/usr/bin/busybox"})
    if (fs::exists(candidate) && is_static_executable(candidate)) return candidate;
  fs::create_directories(work / "deb");
  run_program({"apt-get", "download", "busybox-static"}, work / "deb");
  for (const auto& entry : fs::directory_iterator(work / "deb"))
    if (entry.path().extension() == ".deb") run_program({"dpkg", "-x", entry.path().string(), "unpacked"}, work / "deb");
  const auto unpacked = work / "deb" / "unpacked" / "bin" / "busybox";
  if (!fs::exists(unpacked) || !is_static_executable(unpacked))
    throw Error("busybox-static: no static busybox in the downloaded package (fix: apt-get install busybox-static)", exit_code::runner_failed);
  return unpacked;
}

void build_busybox(const Recipe& recipe, const fs::path& work, const fs::path& tree) {
  const auto busybox = static_busybox(work);
  fs::create_directories(tree / "bin");
  fs::copy_file(busybox, tree / "bin" / "busybox");
  fs::permissions(tree / "bin" / "busybox", fs::perms(0755));
  for (const auto& applet : recipe.applets) fs::create_symlink("busybox", tree / "bin" / applet);
  for (const auto& directory : recipe.directories) fs::create_directories(tree / directory);
  for (const auto& [path, target] : recipe.symlinks) {
    fs::create_directories((tree / path).parent_path());
    fs::create_symlink(target, tree / path);
  }
}

// A Debian package name (Debian policy 5.6.1), optionally with =VERSION or
// /RELEASE as apt takes it: nothing mmdebstrap could read as an option.
bool is_package_name(const std::string& name) {
  if (name.size() < 2 || !std::isalnum(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("+-.:=~/").find(c) != std::string_view::npos;
  });
}

std::string string_of(const json& document, const char* key, const fs::path& file, const std::string& fallback) {
  if (!document.contains(key)) return fallback;
  if (!document[key].is_string() || document[key].get<std::string>().empty())
    throw Error(file.string() + ": /" + key + ": expected a non-empty string", exit_code::runner_failed);
  return document[key].get<std::string>();
}

void build_debian(const Recipe& recipe, const fs::path& recipe_file, const fs::path& work, const fs::path& tree,
                  ExtractReport& report) {
  std::string suite = recipe.suite;
  if (suite == "host") {
    std::ifstream in("/etc/os-release");
    std::stringstream text;
    text << in.rdbuf();
    suite = host_debian_codename(text.str(), recipe_file.string());
  }
  const auto tarball = work / "mmdebstrap.tar";
  run_program(mmdebstrap_argv(recipe, suite, tarball.string()), work);
  extract_archive(tarball, tree, false, report);
  fs::remove(tarball);
}

}  // namespace

std::string host_debian_codename(const std::string& os_release_text, const std::string& recipe_file) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(os_release_text);
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    auto value = line.substr(equals + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    fields[line.substr(0, equals)] = value;
  }
  if (fields["ID"] != "debian" || fields["VERSION_CODENAME"].empty())
    throw Error(recipe_file + ": /suite: \"host\" needs a Debian host with VERSION_CODENAME in /etc/os-release (this host: ID=" +
                    fields["ID"] + "; fix: name the suite, e.g. \"suite\": \"bookworm\")",
                exit_code::runner_failed);
  return fields["VERSION_CODENAME"];
}

std::vector<std::string> mmdebstrap_argv(const Recipe& recipe, const std::string& suite, const std::string& output) {
  // Root mode (the tool runs as root); /dev's nodes are not written (the
  // sandbox gets tierbox's /dev, and an import refuses device nodes).
  std::vector<std::string> argv = {"mmdebstrap", "--mode=root", "--variant=" + recipe.variant, "--format=tar",
                                   "--skip=output/dev", "--quiet"};
  if (!recipe.packages.empty()) {
    std::string include;
    for (const auto& package : recipe.packages) include += (include.empty() ? "" : ",") + package;
    argv.push_back("--include=" + include);
  }
  argv.push_back(suite);
  argv.push_back(output);
  if (!recipe.mirror.empty()) argv.push_back(recipe.mirror);
  return argv;
}

Recipe load_recipe(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": no such recipe (recipes are RECIPES/NAME.json, shipped: minimal)", exit_code::runner_failed);
  const auto document = policy::read_json_file(file.string());
  Recipe recipe;
  recipe.name = file.stem().string();
  recipe.builder = document.value("builder", "");
  if (recipe.builder == "mmdebstrap") {
    recipe.suite = string_of(document, "suite", file, "host");
    recipe.variant = string_of(document, "variant", file, "minbase");
    recipe.mirror = string_of(document, "mirror", file, "");
    if (!is_package_name(recipe.suite))
      throw Error(file.string() + ": /suite: " + json(recipe.suite).dump() + " is not a Debian codename (or \"host\")", exit_code::runner_failed);
    static const std::set<std::string> variants = {"extract", "custom", "essential", "apt", "required", "minbase",
                                                   "buildd", "important", "debootstrap", "standard"};
    if (!variants.count(recipe.variant))
      throw Error(file.string() + ": /variant: " + json(recipe.variant).dump() + " is not an mmdebstrap variant (fix: \"minbase\")",
                  exit_code::runner_failed);
    if (document.contains("packages") && !document["packages"].is_array())
      throw Error(file.string() + ": /packages: expected an array of Debian package names", exit_code::runner_failed);
    for (const auto& package : document.value("packages", json::array())) {
      if (!package.is_string() || !is_package_name(package.get<std::string>()))
        throw Error(file.string() + ": /packages: " + package.dump() + " is not a Debian package name", exit_code::runner_failed);
      recipe.packages.push_back(package.get<std::string>());
    }
    return recipe;
  }
  if (recipe.builder != "busybox-static")
    throw Error(file.string() + ": /builder: expected \"busybox-static\" or \"mmdebstrap\", got " + json(recipe.builder).dump(),
                exit_code::runner_failed);
  for (const auto& applet : strings_of(document, "applets", file)) {
    if (applet.find('/') != std::string::npos) throw Error(file.string() + ": /applets: " + quote(applet) + " is not an applet name", exit_code::runner_failed);
    recipe.applets.push_back(applet);
  }
  recipe.directories = strings_of(document, "directories", file);
  if (document.contains("symlinks"))
    for (const auto& [path, target] : document["symlinks"].items()) {
      if (!normalize_image_path(path) || !target.is_string())
        throw Error(file.string() + ": /symlinks/" + path + ": expected \"relative/path\": \"target\"", exit_code::runner_failed);
      recipe.symlinks.emplace_back(*normalize_image_path(path), target.get<std::string>());
    }
  return recipe;
}

bool is_static_executable(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return false;
  if (std::string_view(reinterpret_cast<const char*>(header.e_ident), 4) != ELFMAG || header.e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + i * header.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&program), sizeof program)) return false;
    if (program.p_type == PT_INTERP) return false;
  }
  return true;
}

ImageName build_image(const Store& store, const std::string& name, const fs::path& recipe_dir) {
  (void)store.name_file(name);  // throws for an invalid name, before any work
  const auto file = recipe_dir / (name + ".json");
  const auto recipe = load_recipe(file);
  ensure_store(store);
  StagingDir staging(store);
  ExtractReport report;
  if (recipe.builder == "mmdebstrap")
    build_debian(recipe, file, staging.path(), staging.tree(), report);
  else
    build_busybox(recipe, staging.path(), staging.tree());
  return commit_image(store, name, staging, "recipe " + file.string(), report.stripped);
}

}  // namespace tierbox::rootfs
