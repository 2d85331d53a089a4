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

}  // namespace tierbox::policy
