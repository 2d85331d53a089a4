// Renames in a change set, read from its entries. The overlay is made with
// redirect_dir=off (stages/staged_overlay.h), so a directory the task
// renamed arrives as a delete of every entry below the old name and an add
// of every entry below the new one (mv copies it on EXDEV), and a renamed
// file as a delete and an add. A deleted entry and an added one are shown
// as one rename when they are the same: type, mode and content (a file's
// sha256, a link's target; a directory's mode and every entry below it,
// each the same at the same relative path), and no other deleted or added
// entry is the same as either. What the task did (mv, or copy then
// remove) cannot be told apart, and need not: the result is the same.
//
// Display only: the change set, its digest, apply and rollback keep every
// entry (an apply deletes and adds them), so what lands is still exactly
// what was approved.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "staged/changes.h"

namespace tierbox::staged {

struct Rename {
  std::string from;
  std::string to;
  bool directory = false;
  std::vector<std::size_t> entries;  // indexes of the changes it stands for (both sides, subtrees included)
};

// Pure; O(n log n) in the number of changes, in any order.
std::vector<Rename> find_renames(const std::vector<Change>& changes);

// "R  lib/ -> src/ (3 entries below)", "R  a.txt -> b.txt".
std::string rename_line(const Rename& rename);

}  // namespace tierbox::staged
