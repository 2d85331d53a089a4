// Tier metadata: who owns a tier and when it was, and must next be, reviewed.
// Each file of an `extends` chain carries its own; a tier without its own
// values inherits its base's (docs/profiles.md), and a tier is expired when
// the review_by date of any file of its chain has passed.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tierbox::policy {

class JsonObjectReader;

// A calendar date, "YYYY-MM-DD" (UTC when compared with today).
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  auto operator<=>(const Date&) const = default;
  [[nodiscard]] std::string str() const;
  // Days since 1970-01-01.
  [[nodiscard]] long days() const;
};

std::optional<Date> parse_date(std::string_view text);
Date date_from_days(long days);

// One file's review entry.
struct ReviewEntry {
  std::string file;  // the profile file that states it
  std::string owner;
  std::string reviewed_by;
  std::optional<Date> reviewed_on;
  std::optional<Date> review_by;
};

struct MetadataSpec {
  std::string owner;
  std::string reviewed_by;
  std::optional<Date> reviewed_on;
  std::optional<Date> review_by;
  std::string source;                // the file the leaf's review values came from
  std::vector<ReviewEntry> chain;    // every file's own values, base first
};

// Reads owner, reviewed_by, reviewed_on, review_by of one file (top level):
// fills entry, and overrides spec with what the file states.
void apply_metadata(JsonObjectReader& reader, ReviewEntry& entry, MetadataSpec& spec);
// Throws ConfigError when the tier (after extends) lacks a field, or a file's
// reviewed_on is after its review_by.
void validate_metadata(const MetadataSpec& spec, const std::string& leaf_file);

enum class ReviewState { current, due_soon, expired };

struct ReviewStatus {
  ReviewState state = ReviewState::current;
  Date deadline;          // the earliest review_by of the chain
  std::string file;       // the file it comes from
  long days_left = 0;     // negative once expired
};

inline constexpr long kReviewDueSoonDays = 30;

ReviewStatus review_status(const MetadataSpec& spec, Date today);
// "current until 2027-05-01", "due in 12 days (2026-12-07)", "EXPIRED since 2026-01-01 (base.json)"
std::string describe(const ReviewStatus& status);

}  // namespace tierbox::policy
