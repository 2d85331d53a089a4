#include "common/filesystems.h"

#include <linux/magic.h>

#include <cstdio>

namespace tierbox {
namespace {

struct Known {
  std::uint64_t magic;
  const char* name;
  bool kernel;
};

// Magic numbers missing from older linux/magic.h are spelled out.
constexpr Known kKnown[] = {
    {EXT4_SUPER_MAGIC, "ext4", false},          // also ext2 and ext3
    {XFS_SUPER_MAGIC, "xfs", false},
    {BTRFS_SUPER_MAGIC, "btrfs", false},
    {TMPFS_MAGIC, "tmpfs/devtmpfs", false},      // one magic for both
    {0x2011BAB0, "exfat", false},
    {MSDOS_SUPER_MAGIC, "vfat", false},
    {NFS_SUPER_MAGIC, "nfs", false},
    {0xFF534D42, "cifs", false},
    {0xFE534D42, "smb2", false},
    {0x65735546, "fuse", false},
    {OVERLAYFS_SUPER_MAGIC, "overlay", false},
    {SQUASHFS_MAGIC, "squashfs", false},
    {0x2FC12FC1, "zfs", false},
    {0xF2F52010, "f2fs", false},
    {PROC_SUPER_MAGIC, "proc", true},
    {SYSFS_MAGIC, "sysfs", true},
    {DEVPTS_SUPER_MAGIC, "devpts", true},
    {CGROUP_SUPER_MAGIC, "cgroup", true},
    {CGROUP2_SUPER_MAGIC, "cgroup2", true},
    {DEBUGFS_MAGIC, "debugfs", true},
    {TRACEFS_MAGIC, "tracefs", true},
    {SECURITYFS_MAGIC, "securityfs", true},
    {SELINUX_MAGIC, "selinuxfs", true},
    {SMACK_MAGIC, "smackfs", true},
    {BPF_FS_MAGIC, "bpf", true},
    {0x62656570, "configfs", true},
    {EFIVARFS_MAGIC, "efivarfs", true},
    {PSTOREFS_MAGIC, "pstore", true},
    {BINFMTFS_MAGIC, "binfmt_misc", true},
    {NSFS_MAGIC, "nsfs", true},
    {0x19800202, "mqueue", true},
    {0x65735543, "fusectl", true},
    {AUTOFS_SUPER_MAGIC, "autofs", true},
    {HUGETLBFS_MAGIC, "hugetlbfs", true},
};

const Known* find(std::uint64_t magic) {
  for (const auto& known : kKnown)
    if (known.magic == magic) return &known;
  return nullptr;
}

}  // namespace

std::string filesystem_name(std::uint64_t magic) {
  if (const auto* known = find(magic)) return known->name;
  char text[40];
  std::snprintf(text, sizeof text, "filesystem 0x%llx", static_cast<unsigned long long>(magic));
  return text;
}

bool is_kernel_filesystem(std::uint64_t magic) {
  const auto* known = find(magic);
  return known && known->kernel;
}

}  // namespace tierbox
