// `tierbox rootfs build NAME`: an image from the recipe rootfs/NAME.json.
// Builder "busybox-static": one statically linked busybox (Debian's
// busybox-static: the host's /bin/busybox when that is the static one, or
// the package fetched with `apt-get download` and unpacked with dpkg -x into
// a temporary directory; never installed on the host) with a symlink per
// applet the recipe lists.
#pragma once

#include <filesystem>
#include <string>

#include "rootfs/store.h"

namespace tierbox::rootfs {

struct Recipe {
  std::string name;
  std::string builder;                  // "busybox-static"
  std::vector<std::string> applets;     // linked in bin/
  std::vector<std::string> directories; // made empty (etc, tmp, ...)
  std::vector<std::pair<std::string, std::string>> symlinks;  // path -> target
};

// Throws Error naming the file and field.
Recipe load_recipe(const std::filesystem::path& file);

// True when the ELF file has no program interpreter (PT_INTERP): it runs in
// an image that holds no dynamic loader.
bool is_static_executable(const std::filesystem::path& file);

ImageName build_image(const Store& store, const std::string& name, const std::filesystem::path& recipe_dir);

}  // namespace tierbox::rootfs
