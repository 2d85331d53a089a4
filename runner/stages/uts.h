// Child side: the UTS namespace's names. The task sees the tier's hostname,
// never the host's, and no NIS domain.
#pragma once

#include "stages/child_failure.h"

namespace tierbox::stages {

bool set_host_name(const char* hostname, ChildFailure& failure) noexcept;

}  // namespace tierbox::stages
