// `tierbox rootfs build NAME`: an image from the recipe rootfs/NAME.json.
// Builder "busybox-static": one statically linked busybox (Debian's
// busybox-static: the host's /bin/busybox when that is the static one, or
// the package fetched with `apt-get download` and unpacked with dpkg -x into
// a temporary directory; never installed on the host) with a symlink per
// applet the recipe lists.
// Builder "mmdebstrap": a Debian root of the recipe's suite ("host": the
// host's own release) and variant with the recipe's packages, from Debian's
// archive, written by mmdebstrap as a tarball and unpacked like an import
// (archive_extract.h: setuid bits stripped and recorded, no device node).
#pragma once

#include <filesystem>
#include <string>

#include "rootfs/store.h"

namespace tierbox::rootfs {

struct Recipe {
  std::string name;
  std::string builder;                  // "busybox-static" or "mmdebstrap"
  // busybox-static
  std::vector<std::string> applets;     // linked in bin/
  std::vector<std::string> directories; // made empty (etc, tmp, ...)
  std::vector<std::pair<std::string, std::string>> symlinks;  // path -> target
  // mmdebstrap
  std::string suite;                    // a Debian codename, or "host"
  std::string variant;                  // minbase, essential, required, ...
  std::vector<std::string> packages;    // --include
  std::string mirror;                   // empty: mmdebstrap's default, Debian's archive
};

// The codename of a Debian host's release (VERSION_CODENAME of os-release
// text); throws Error naming the fix when the host is not Debian or says none.
std::string host_debian_codename(const std::string& os_release_text, const std::string& recipe_file);

// mmdebstrap's arguments for the recipe, writing output (a tarball).
std::vector<std::string> mmdebstrap_argv(const Recipe& recipe, const std::string& suite, const std::string& output);

// Throws Error naming the file and field.
Recipe load_recipe(const std::filesystem::path& file);

// True when the ELF file has no program interpreter (PT_INTERP): it runs in
// an image that holds no dynamic loader.
bool is_static_executable(const std::filesystem::path& file);

ImageName build_image(const Store& store, const std::string& name, const std::filesystem::path& recipe_dir);

}  // namespace tierbox::rootfs
