// The mount points /proc/self/mountinfo lists below a directory: a bind
// takes every mount below its source with it (it is recursive), so what is
// checked of a bind's source must be checked of those too. Pure parsing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tierbox {

// Mount points strictly below directory (an absolute, normalized path), as
// mountinfo's fifth field gives them (\ooo escapes undone), in its order.
std::vector<std::string> mount_points_below(std::string_view mountinfo, const std::string& directory);

}  // namespace tierbox
