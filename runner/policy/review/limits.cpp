// Review entries of `limits`.
#include "common/units.h"
#include "policy/review/review.h"

namespace tierbox::policy {

void compare_limits(const Profile& before, const Profile& after, Changes& out) {
  compare_ordered(out, "limits.wall_time", before.limits.wall_time, after.limits.wall_time, true,
                  format_duration(before.limits.wall_time), format_duration(after.limits.wall_time));
}

void explain_limits(const Profile& profile, const ExplainContext&, Explanation& out) {
  out.push_back({"Limits",
                 {"Wall-clock time: " + format_duration(profile.limits.wall_time) +
                      ", then the whole task tree is killed (run --timeout may only shorten it).",
                  "Core dumps: off."}});
}

}  // namespace tierbox::policy
