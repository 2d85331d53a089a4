#include "daemon/refusal_budget.h"

#include <algorithm>

namespace tierbox::daemon {

unsigned UnrecordedRefusals::total() const {
  unsigned sum = 0;
  for (const auto& [kind, count] : by_kind) sum += count;
  return sum;
}

RefusalBudget::RefusalBudget(RefusalBudgetSettings settings) : settings_(settings) {
  // A zero window would end each window at its first refusal: every refusal
  // recorded, the budget meaningless. One second at least.
  settings_.window = std::max(settings_.window, std::chrono::seconds(1));
}

std::optional<UnrecordedRefusals> RefusalBudget::summary(uid_t uid, const Window& window, Clock::time_point end) const {
  if (window.unrecorded.empty()) return std::nullopt;
  return UnrecordedRefusals{uid,
                            window.user_name,
                            std::min(end, window.start + settings_.window) - window.start,
                            window.recorded,
                            window.unrecorded,
                            uid == static_cast<uid_t>(-1)};
}

RefusalBudget::Admission RefusalBudget::admit(uid_t uid, const std::string& user_name, const std::string& kind,
                                              Clock::time_point now) {
  Admission admission;
  auto found = windows_.find(uid);
  if (found != windows_.end() && now >= found->second.start + settings_.window) {
    admission.ended = summary(uid, found->second, now);
    windows_.erase(found);
    found = windows_.end();
  }
  if (found == windows_.end() && windows_.size() >= settings_.max_uids) {
    // Past max_uids: counted in the shared window, recorded only in its summary.
    if (others_ && now >= others_->start + settings_.window) {
      admission.ended = summary(static_cast<uid_t>(-1), *others_, now);
      others_.reset();
    }
    if (!others_) others_ = Window{now, "", 0, {}};
    ++others_->unrecorded[kind];
    return admission;
  }
  if (found == windows_.end()) found = windows_.emplace(uid, Window{now, user_name, 0, {}}).first;
  auto& window = found->second;
  if (window.recorded < settings_.records_per_window) {
    ++window.recorded;
    admission.record = true;
  } else {
    ++window.unrecorded[kind];
  }
  return admission;
}

std::vector<UnrecordedRefusals> RefusalBudget::take_ended(Clock::time_point now) {
  std::vector<UnrecordedRefusals> ended;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now < it->second.start + settings_.window) {
      ++it;
      continue;
    }
    if (auto done = summary(it->first, it->second, now)) ended.push_back(std::move(*done));
    it = windows_.erase(it);
  }
  if (others_ && now >= others_->start + settings_.window) {
    if (auto done = summary(static_cast<uid_t>(-1), *others_, now)) ended.push_back(std::move(*done));
    others_.reset();
  }
  return ended;
}

std::vector<UnrecordedRefusals> RefusalBudget::take_all(Clock::time_point now) {
  std::vector<UnrecordedRefusals> all;
  for (const auto& [uid, window] : windows_)
    if (auto done = summary(uid, window, now)) all.push_back(std::move(*done));
  windows_.clear();
  if (others_)
    if (auto done = summary(static_cast<uid_t>(-1), *others_, now)) all.push_back(std::move(*done));
  others_.reset();
  return all;
}

std::optional<RefusalBudget::Clock::time_point> RefusalBudget::next_end() const {
  std::optional<Clock::time_point> first;
  for (const auto& [uid, window] : windows_)
    if (!first || window.start + settings_.window < *first) first = window.start + settings_.window;
  if (others_ && (!first || others_->start + settings_.window < *first)) first = others_->start + settings_.window;
  return first;
}

}  // namespace tierbox::daemon
