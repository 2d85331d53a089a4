#include "policy/sections/metadata.h"

#include <cstdio>

#include "common/errors.h"
#include "policy/json_reader.h"
#include "policy/profile.h"
#include "policy/sections/registry.h"

namespace tierbox::policy {
namespace {

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

std::optional<Date> read_date(JsonObjectReader& reader, const std::string& key) {
  auto text = reader.string(key);
  if (!text) return std::nullopt;
  auto date = parse_date(*text);
  if (!date) reader.fail(key, "expected a date YYYY-MM-DD, got " + nlohmann::json(*text).dump());
  return date;
}

std::optional<std::string> read_name(JsonObjectReader& reader, const std::string& key) {
  auto text = reader.string(key);
  if (text && text->find_first_not_of(" \t") == std::string::npos)
    reader.fail(key, "must not be empty (fix: name a person or team, e.g. \"security@example.com\")");
  return text;
}

}  // namespace

std::string Date::str() const {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
  return text;
}

long Date::days() const {
  // Howard Hinnant's days_from_civil.
  const int y = year - (month <= 2 ? 1 : 0);
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long year_of_era = y - era * 400;
  const long day_of_year = (153L * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

Date date_from_days(long days) {
  days += 719468;
  const long era = (days >= 0 ? days : days - 146096) / 146097;
  const long day_of_era = days - era * 146097;
  const long year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const long mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
  return Date{year, month, day};
}

std::optional<Date> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  Date date{number(0, 4), number(5, 2), number(8, 2)};
  if (date.year < 2000 || date.month < 1 || date.month > 12 || date.day < 1 ||
      date.day > days_in_month(date.year, date.month))
    return std::nullopt;
  return date;
}

void apply_metadata(JsonObjectReader& reader, ReviewEntry& entry, MetadataSpec& spec) {
  entry.file = reader.file();
  if (auto owner = read_name(reader, "owner")) entry.owner = *owner;
  if (auto reviewed_by = read_name(reader, "reviewed_by")) entry.reviewed_by = *reviewed_by;
  entry.reviewed_on = read_date(reader, "reviewed_on");
  entry.review_by = read_date(reader, "review_by");
  if (entry.reviewed_on && entry.review_by && *entry.reviewed_on > *entry.review_by)
    reader.fail("review_by", "is before reviewed_on (" + entry.reviewed_on->str() + "); fix: set the next review date after the last");
  if (!entry.owner.empty()) spec.owner = entry.owner;
  // The review fields go together: a file that states any of them is the
  // source of all three, so a tier never shows one person's review with
  // another file's dates.
  if (!entry.reviewed_by.empty() || entry.reviewed_on || entry.review_by) {
    spec.reviewed_by = entry.reviewed_by;
    spec.reviewed_on = entry.reviewed_on;
    spec.review_by = entry.review_by;
    spec.source = entry.file;
  }
  spec.chain.push_back(entry);
}

void validate_metadata(const MetadataSpec& spec, const std::string& leaf_file) {
  const auto missing = [&](const char* key, const char* example) {
    throw ConfigError(leaf_file, std::string("/") + key,
                      std::string("missing: every tier states its ") + key + " (in the file or a base it extends; e.g. " + example + ")");
  };
  if (spec.owner.empty()) missing("owner", "\"owner\": \"security@example.com\"");
  if (spec.reviewed_by.empty()) missing("reviewed_by", "\"reviewed_by\": \"alice@example.com\"");
  if (!spec.reviewed_on) missing("reviewed_on", "\"reviewed_on\": \"2026-11-01\"");
  if (!spec.review_by) missing("review_by", "\"review_by\": \"2027-05-01\"");
}

ReviewStatus review_status(const MetadataSpec& spec, Date today) {
  ReviewStatus status;
  bool found = false;
  for (const auto& entry : spec.chain) {
    if (!entry.review_by) continue;
    if (!found || *entry.review_by < status.deadline) {
      status.deadline = *entry.review_by;
      status.file = entry.file;
      found = true;
    }
  }
  if (!found) {
    status.state = ReviewState::expired;  // fail closed: no date is no review
    return status;
  }
  status.days_left = status.deadline.days() - today.days();
  // review_by is the last day the review is valid.
  if (status.days_left < 0) status.state = ReviewState::expired;
  else if (status.days_left <= kReviewDueSoonDays) status.state = ReviewState::due_soon;
  return status;
}

std::string describe(const ReviewStatus& status) {
  switch (status.state) {
    case ReviewState::current: return "current until " + status.deadline.str();
    case ReviewState::due_soon:
      return "due in " + std::to_string(status.days_left) + " days (" + status.deadline.str() + ")";
    case ReviewState::expired:
      if (status.file.empty()) return "EXPIRED (no review_by date)";
      return "EXPIRED since " + status.deadline.str() + " (review_by of " + status.file + ")";
  }
  return "?";
}

namespace {

void apply_metadata_layer(ProfileLayer& layer, Profile& profile) {
  ReviewEntry review;
  apply_metadata(layer.reader, review, profile.metadata);
}

void validate_metadata_of(const Profile& profile) { validate_metadata(profile.metadata, profile.file.string()); }

}  // namespace

const ProfileSection& metadata_section() {
  static const ProfileSection kSection{
      "metadata",
      "governance",
      {
          {"owner", R"({"type": "string", "minLength": 1})", nullptr,
           "who answers for the tier (a team or address); required, may come from the base", "Tier metadata and review dates"},
          {"reviewed_by", R"({"type": "string", "minLength": 1})", nullptr, "who last reviewed the tier",
           "Tier metadata and review dates"},
          {"reviewed_on", R"({"$ref": "#/$defs/date"})", nullptr, "when it was last reviewed (YYYY-MM-DD)",
           "Tier metadata and review dates"},
          {"review_by", R"({"$ref": "#/$defs/date"})", nullptr,
           "the last day the review is valid; after it the tier refuses to run", "Tier metadata and review dates"},
      },
      apply_metadata_layer,
      validate_metadata_of,
  };
  return kSection;
}

}  // namespace tierbox::policy
