// Names of filesystems by their statfs(2) magic number (linux/magic.h), for
// messages and for refusing a workspace that is a kernel view rather than
// files on a disk. Pure lookups.
#pragma once

#include <cstdint>
#include <string>

namespace tierbox {

// "ext4", "proc", ...; "filesystem 0x..." for one this table lacks.
std::string filesystem_name(std::uint64_t magic);

// Whether the filesystem is a kernel view (proc, sysfs, cgroup, debugfs,
// ...): its entries are the kernel's state, not a project's files.
bool is_kernel_filesystem(std::uint64_t magic);

}  // namespace tierbox
