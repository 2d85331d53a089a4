// Pending approval requests, and how an approver's decision reaches the
// waiting runner without trusting the approver.
//
// tierbox runs as root; approvers are ordinary users running tierbox
// themselves. The runner files a request in APPROVALS_DIR (tierbox.json
// `approvals_dir`, default /run/tierbox-approvals, root's, 0755):
//
//   <id>.lock   flock()ed by the waiting runner: a request whose lock is free
//               is stale (its runner died) and is never listed
//   <id>.json   what is asked (0644): requester, tier, command, plan summary
//               and digest, the rule and what it requires, approvals so far
//   <id>.sock   a unix stream socket (0666) the runner listens on
//
// `tierbox approve ID` / `deny ID` connect to <id>.sock and send one JSON
// line: the vote, a reason, and the plan digest the approver was shown. The
// runner takes the approver's identity from the connection itself
// (SO_PEERCRED: the uid the kernel recorded at connect()), never from what
// the client says, checks it (eligibility.h) and the digest, and answers
// whether the vote counted. Nothing an approver writes is trusted beyond
// being a vote of that uid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "audit/audit_log.h"
#include "common/unique_fd.h"

namespace tierbox::approval {

// A vote as the runner received it.
struct Vote {
  audit::Identity by;  // uid from SO_PEERCRED; name from the passwd file; sudo_user as claimed (information only)
  bool approve = false;
  std::string reason;
  std::string plan_digest;
  UniqueFd connection;  // to answer on
};

// The runner's side: the filed request, removed when this object goes.
class PendingRequest {
 public:
  // Files request (the JSON document listed by `tierbox approvals`) as
  // dir/<id>.*; throws Error when dir is unsafe (not root's, or writable by
  // others) or the files cannot be made.
  PendingRequest(const std::filesystem::path& dir, const std::string& id, nlohmann::json request);
  ~PendingRequest();
  PendingRequest(const PendingRequest&) = delete;
  PendingRequest& operator=(const PendingRequest&) = delete;

  // The next vote, or nullopt at the deadline or when cancel_fd (a signalfd)
  // becomes readable (cancelled set then). A connection that sends nothing
  // useful within a few seconds is dropped and waiting goes on.
  std::optional<Vote> next_vote(std::chrono::steady_clock::time_point deadline, int cancel_fd, bool& cancelled);
  static void answer(Vote& vote, bool accepted, const std::string& message);
  // Rewrites the JSON document (e.g. with the approvals so far).
  void update(const nlohmann::json& request);

 private:
  std::filesystem::path dir_;
  std::string id_;
  UniqueFd lock_;
  UniqueFd listener_;
};

struct ListedRequest {
  nlohmann::json request;
  bool alive = false;  // its runner still waits
};

// Every request of dir (stale ones flagged), by id.
std::vector<ListedRequest> list_requests(const std::filesystem::path& dir);
std::optional<ListedRequest> find_request(const std::filesystem::path& dir, const std::string& id);
// Removes the files of requests whose runner is gone (for `tierbox gc`);
// returns their ids.
std::vector<std::string> remove_stale_requests(const std::filesystem::path& dir);

struct VoteAnswer {
  bool accepted = false;
  std::string message;
};

// The approver's side: sends a vote for request id and returns the runner's
// answer. Throws Error when there is no such request waiting.
VoteAnswer send_vote(const std::filesystem::path& dir, const std::string& id, bool approve, const std::string& reason,
                     const std::string& plan_digest);

bool is_valid_request_id(const std::string& id);

}  // namespace tierbox::approval
