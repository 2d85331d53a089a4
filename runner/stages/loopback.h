// Child side: a new network namespace starts with lo down. Bringing it up
// lets servers inside the task (a test database, a dev server) work over
// 127.0.0.1 and ::1 while nothing else is reachable.
#pragma once

#include "stages/child_failure.h"

namespace tierbox::stages {

bool bring_up_loopback(ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
