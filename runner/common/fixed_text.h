// A fixed-capacity text buffer for the child after clone, where nothing may
// allocate: error details are composed here and sent to the parent as-is.
// Overlong text is truncated, never overflowed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tierbox {

class FixedText {
 public:
  FixedText(char* buffer, std::size_t capacity) noexcept : buffer_(buffer), capacity_(capacity) {
    if (capacity_ > 0) buffer_[0] = '\0';
  }
  FixedText& add(const char* text) noexcept {
    while (text && *text && length_ + 1 < capacity_) buffer_[length_++] = *text++;
    buffer_[length_] = '\0';
    return *this;
  }
  FixedText& add_quoted(const char* text) noexcept { return add("\"").add(text).add("\""); }
  FixedText& add_number(std::int64_t value) noexcept {
    char digits[24];
    int count = 0;
    std::uint64_t magnitude = value < 0 ? static_cast<std::uint64_t>(-(value + 1)) + 1 : static_cast<std::uint64_t>(value);
    do {
      digits[count++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude && count < 23);
    if (value < 0) add("-");
    char reversed[24];
    for (int i = 0; i < count; ++i) reversed[i] = digits[count - 1 - i];
    reversed[count] = '\0';
    return add(reversed);
  }
  [[nodiscard]] const char* c_str() const noexcept { return buffer_; }

 private:
  char* buffer_;
  std::size_t capacity_;
  std::size_t length_ = 0;
};

}  // namespace tierbox
