// How a child-side stage reports a failure without allocating: errno and a
// detail naming the call and its arguments, composed in a fixed buffer. The
// launch sequence adds which step it was and sends it to the parent.
#pragma once

#include <cerrno>

#include "common/fixed_text.h"

namespace tierbox::stages {

struct ChildFailure {
  int err = 0;
  char detail[256] = {};

  // Records err (positive errno) and returns the detail text to fill in.
  FixedText record(int error_number) noexcept {
    err = error_number;
    return FixedText(detail, sizeof detail);
  }
  // Shorthand: record errno with "call(argument)" and return false.
  bool fail_errno(const char* call, const char* argument = nullptr) noexcept {
    auto text = record(errno);
    text.add(call).add("(");
    if (argument) text.add_quoted(argument);
    text.add(")");
    return false;
  }
};

}  // namespace tierbox::stages
