#include "policy/profile.h"

namespace tierbox::policy {

const char* to_string(MountType type) {
  switch (type) {
    case MountType::bind: return "bind";
    case MountType::tmpfs: return "tmpfs";
    case MountType::symlink: return "symlink";
  }
  return "?";
}

const char* to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::none: return "none";
  }
  return "?";
}

}  // namespace tierbox::policy
