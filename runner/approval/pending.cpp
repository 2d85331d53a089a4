#include "approval/pending.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "approval/grant_store.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json_bytes.h"
#include "common/users.h"

namespace tierbox::approval {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kMaxVoteBytes = 16 * 1024;
constexpr int kVoteReadTimeoutMs = 5000;

sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path)
    throw Error("approvals: socket path " + path.string() + " is too long (fix: a shorter approvals_dir)",
                exit_code::runner_failed);
  std::memcpy(address.sun_path, path.c_str(), path.string().size() + 1);
  return address;
}

// The directory approvers read: root's, and writable by nobody else, so every
// socket and file in it is the runner's.
void prepare_directory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw_sys_error("mkdir(" + quote(dir.string()) + ", 0755)");
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) throw_sys_error("lstat(" + quote(dir.string()) + ")");
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)
    throw Error("approvals_dir " + dir.string() + " must be a directory of tierbox's own user that nobody else can write "
                "(fix: chown root and chmod 755)", exit_code::runner_failed);
  if ((st.st_mode & 0755) != 0755 && ::chmod(dir.c_str(), 0755) != 0) throw_sys_error("chmod(" + quote(dir.string()) + ", 0755)");
}

bool lock_is_held(const fs::path& lock_file) {
  UniqueFd fd(::open(lock_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

// One line of at most kMaxVoteBytes, within the timeout.
std::optional<std::string> read_line(int fd, int timeout_ms) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (text.find('\n') == std::string::npos && text.size() < kMaxVoteBytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd wait_for {fd, POLLIN, 0};
    const int ready = ::poll(&wait_for, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  const auto newline = text.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  return text.substr(0, newline);
}

void send_line(int fd, const std::string& line) {
  const auto text = line + "\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // the approver went away; their vote was recorded anyway
    sent += static_cast<std::size_t>(n);
  }
}

// Who is at the other end, as the kernel recorded it at connect().
std::optional<audit::Identity> peer_identity(int fd) {
  struct ucred credentials {};
  socklen_t size = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return std::nullopt;
  audit::Identity identity;
  identity.uid = credentials.uid;
  identity.name = user_name(credentials.uid);
  return identity;
}

}  // namespace

bool is_valid_request_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

PendingRequest::PendingRequest(const fs::path& dir, const std::string& id, json request) : dir_(dir), id_(id) {
  if (!is_valid_request_id(id)) throw Error("approvals: invalid request id " + quote(id), exit_code::runner_failed);
  prepare_directory(dir);
  const auto lock_path = dir / (id + ".lock");
  lock_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!lock_) throw_sys_error("open(" + quote(lock_path.string()) + ", O_CREAT|O_EXCL)");
  if (::flock(lock_.get(), LOCK_EX) != 0) throw_sys_error("flock(" + quote(lock_path.string()) + ", LOCK_EX)");
  const auto socket_path = dir / (id + ".sock");
  listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_) throw_sys_error("socket(AF_UNIX, SOCK_STREAM)");
  const auto address = socket_address(socket_path);
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw_sys_error("bind(" + quote(socket_path.string()) + ")");
  // Anyone may connect: who they are is what SO_PEERCRED says.
  if (::chmod(socket_path.c_str(), 0666) != 0) throw_sys_error("chmod(" + quote(socket_path.string()) + ", 0666)");
  if (::listen(listener_.get(), 16) != 0) throw_sys_error("listen(" + quote(socket_path.string()) + ")");
  update(request);
}

PendingRequest::~PendingRequest() {
  for (const char* suffix : {".json", ".sock", ".lock"}) ::unlink((dir_ / (id_ + suffix)).c_str());
}

void PendingRequest::update(const json& request) {
  write_file_atomically(dir_ / (id_ + ".json"), utf8_safe(request).dump(2) + "\n", 0644, Durability::fsync);
}

std::optional<Vote> PendingRequest::next_vote(std::chrono::steady_clock::time_point deadline, int cancel_fd,
                                              bool& cancelled) {
  cancelled = false;
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    struct pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int ready = ::poll(fds, cancel_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left.count(), 3600000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_sys_error("poll(approval socket)");
    if (ready == 0) continue;
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) {
      cancelled = true;
      return std::nullopt;
    }
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) continue;
    auto identity = peer_identity(connection.get());
    const auto line = read_line(connection.get(), kVoteReadTimeoutMs);
    if (!identity || !line) continue;
    const auto message = json::parse(*line, nullptr, false);
    // Whatever an approver sends is untrusted: anything but a well-formed
    // vote is answered and dropped, never allowed to throw here.
    const auto text = [&](const char* key) {
      return message.is_object() && message.contains(key) && message[key].is_string() ? message[key].get<std::string>() : "";
    };
    const auto vote_text = text("vote");
    if (vote_text != "approve" && vote_text != "deny") {
      send_line(connection.get(), json{{"accepted", false}, {"message", "not a vote (expected approve or deny)"}}.dump());
      continue;
    }
    Vote vote;
    vote.by = *identity;
    // Information only: what the approver's environment said.
    vote.by.sudo_user = text("sudo_user");
    vote.approve = vote_text == "approve";
    vote.reason = text("reason");
    // Shown in the requester's one-line refusal and the audit trail.
    std::replace_if(vote.reason.begin(), vote.reason.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }, ' ');
    vote.plan_digest = text("plan_digest");
    vote.connection = std::move(connection);
    return vote;
  }
}

void PendingRequest::answer(Vote& vote, bool accepted, const std::string& message) {
  send_line(vote.connection.get(), json{{"accepted", accepted}, {"message", message}}.dump());
  vote.connection.reset();
}

std::vector<ListedRequest> list_requests(const fs::path& dir) {
  std::vector<ListedRequest> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
    const auto id = name.substr(0, name.size() - 5);
    if (!is_valid_request_id(id)) continue;
    auto request = json::parse(std::string(), nullptr, false);
    try {
      request = read_json_document(entry.path());
    } catch (const Error&) {
      continue;  // being rewritten, or gone
    }
    out.push_back({request, lock_is_held(dir / (id + ".lock"))});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.request.value("created_at", "") < b.request.value("created_at", "");
  });
  return out;
}

std::optional<ListedRequest> find_request(const fs::path& dir, const std::string& id) {
  if (!is_valid_request_id(id)) return std::nullopt;
  const auto file = dir / (id + ".json");
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    return ListedRequest{read_json_document(file), lock_is_held(dir / (id + ".lock"))};
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::vector<std::string> remove_stale_requests(const fs::path& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() < 6 || name.substr(name.size() - 5) != ".lock") continue;
    const auto id = name.substr(0, name.size() - 5);
    if (!is_valid_request_id(id)) continue;
    UniqueFd lock(::open(entry.path().c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;  // its runner still waits
    for (const char* suffix : {".json", ".sock", ".lock"}) ::unlink((dir / (id + suffix)).c_str());
    removed.push_back(id);
  }
  return removed;
}

VoteAnswer send_vote(const fs::path& dir, const std::string& id, bool approve, const std::string& reason,
                     const std::string& plan_digest) {
  if (!is_valid_request_id(id)) throw Error("no approval request " + quote(id) + " (ids are hex, see `tierbox approvals`)", exit_code::runner_failed);
  const auto socket_path = dir / (id + ".sock");
  struct stat st {};
  // The runner's socket, in the runner's directory: nobody else can plant one there.
  if (::lstat(socket_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != 0)
    throw Error("no approval request " + id + " is waiting (see `tierbox approvals`)", exit_code::runner_failed);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_sys_error("socket(AF_UNIX, SOCK_STREAM)");
  const auto address = socket_address(socket_path);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    throw Error("approval request " + id + ": its runner is no longer waiting (" + errno_text(errno) + ")",
                exit_code::runner_failed);
  json vote = {{"vote", approve ? "approve" : "deny"}, {"reason", reason}, {"plan_digest", plan_digest}};
  if (const char* sudo_user = std::getenv("SUDO_USER")) vote["sudo_user"] = sudo_user;
  send_line(fd.get(), vote.dump());
  const auto line = read_line(fd.get(), 30000);
  if (!line) throw Error("approval request " + id + ": no answer from its runner", exit_code::runner_failed);
  const auto answer = json::parse(*line, nullptr, false);
  if (!answer.is_object()) throw Error("approval request " + id + ": unreadable answer from its runner", exit_code::runner_failed);
  return {answer.value("accepted", false), answer.value("message", "")};
}

}  // namespace tierbox::approval
