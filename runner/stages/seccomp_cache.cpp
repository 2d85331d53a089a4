#include "stages/seccomp_cache.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>

#include "common/errors.h"
#include "common/run_id.h"
#include "common/unique_fd.h"
#include "policy/seccomp_rules.h"

namespace tierbox::stages {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'T', 'B', 'X', 'S', 'C', 'M', 'P', '1'};
using Digest = std::array<unsigned char, crypto_hash_sha256_BYTES>;

struct Header {
  char magic[8];
  Digest key;
  std::uint32_t arguments_count;
  std::uint32_t syscalls_count;
  Digest instructions_digest;
};
static_assert(sizeof(Header) == 8 + 32 + 4 + 4 + 32);

Digest sha256(const void* data, std::size_t size) {
  Digest digest{};
  crypto_hash_sha256(digest.data(), static_cast<const unsigned char*>(data), size);
  return digest;
}

Digest key_of(const policy::SeccompSpec& spec, const std::string& build_id) {
  // Everything the exported bytes depend on, and this file's format.
  std::string text = "tierbox seccomp cache 2\n";
  if (!build_id.empty())
    text += "build " + build_id + "\n" + policy::describe(spec);
  else
    text += "libseccomp " + libseccomp_version() + "\narch x86_64\n" + policy::describe(policy::make_seccomp_plan(spec));
  return sha256(text.data(), text.size());
}

int find_build_id(struct dl_phdr_info* info, std::size_t, void* out) {
  // The first object is the executable itself.
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& header = info->dlpi_phdr[i];
    if (header.p_type != PT_NOTE) continue;
    const char* note = reinterpret_cast<const char*>(info->dlpi_addr + header.p_vaddr);
    const char* end = note + header.p_memsz;
    while (note + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nhdr = reinterpret_cast<const ElfW(Nhdr)*>(note);
      const char* name = note + sizeof *nhdr;
      const char* desc = name + ((nhdr->n_namesz + 3) & ~3U);
      if (nhdr->n_type == NT_GNU_BUILD_ID && nhdr->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0 &&
          desc + nhdr->n_descsz <= end) {
        auto& id = *static_cast<std::string*>(out);
        static const char kHex[] = "0123456789abcdef";
        for (std::uint32_t j = 0; j < nhdr->n_descsz; ++j) {
          const auto byte = static_cast<unsigned char>(desc[j]);
          id += kHex[byte >> 4];
          id += kHex[byte & 15];
        }
        return 1;
      }
      note = desc + ((nhdr->n_descsz + 3) & ~3U);
    }
  }
  return 1;  // only the executable
}

std::string hex(const Digest& digest) {
  char text[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(text, sizeof text, digest.data(), digest.size());
  return text;
}

Digest instructions_digest(const BpfProgram& arguments, const BpfProgram& syscalls) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(arguments.data()),
                            arguments.size() * sizeof(struct sock_filter));
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(syscalls.data()),
                            syscalls.size() * sizeof(struct sock_filter));
  Digest digest{};
  crypto_hash_sha256_final(&state, digest.data());
  return digest;
}

// A directory only the runner's user can write, created if missing.
std::optional<std::string> ensure_private_directory(const fs::path& dir) {
  for (const auto& path : {dir.parent_path(), dir}) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return "mkdir(" + quote(path.string()) + "): " + errno_name(errno);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return "lstat(" + quote(path.string()) + "): " + errno_name(errno);
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
      return quote(path.string()) + " is not a 0700 directory of uid " + std::to_string(::geteuid());
  }
  return std::nullopt;
}

// The entry at path, when it passes every check; otherwise why not.
std::optional<CompiledSeccomp> read_entry(const fs::path& path, const Digest& key, std::string& note) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    note = errno == ENOENT ? "not cached yet" : "open(" + quote(path.string()) + "): " + errno_name(errno);
    return std::nullopt;
  }
  struct stat st {};
  constexpr auto kMaxSize = sizeof(Header) + 2 * BPF_MAXINSNS * sizeof(struct sock_filter);
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0 ||
      st.st_size < static_cast<off_t>(sizeof(Header)) || st.st_size > static_cast<off_t>(kMaxSize)) {
    note = "cached entry has the wrong type, owner, mode or size";
    return std::nullopt;
  }
  std::vector<char> bytes(static_cast<std::size_t>(st.st_size));
  if (::pread(fd.get(), bytes.data(), bytes.size(), 0) != st.st_size) {
    note = "cached entry could not be read";
    return std::nullopt;
  }
  Header header;
  std::memcpy(&header, bytes.data(), sizeof header);
  const std::size_t count = std::size_t{header.arguments_count} + header.syscalls_count;
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0 || header.key != key ||
      header.arguments_count > BPF_MAXINSNS || header.syscalls_count == 0 || header.syscalls_count > BPF_MAXINSNS ||
      bytes.size() != sizeof header + count * sizeof(struct sock_filter)) {
    note = "cached entry has a wrong header";
    return std::nullopt;
  }
  CompiledSeccomp filters;
  const auto* instructions = reinterpret_cast<const struct sock_filter*>(bytes.data() + sizeof header);
  filters.arguments.assign(instructions, instructions + header.arguments_count);
  filters.syscalls.assign(instructions + header.arguments_count, instructions + count);
  if (instructions_digest(filters.arguments, filters.syscalls) != header.instructions_digest) {
    note = "cached entry's digest does not match its instructions";
    return std::nullopt;
  }
  return filters;
}

std::optional<std::string> write_entry(const fs::path& path, const Digest& key, const CompiledSeccomp& filters) {
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.key = key;
  header.arguments_count = static_cast<std::uint32_t>(filters.arguments.size());
  header.syscalls_count = static_cast<std::uint32_t>(filters.syscalls.size());
  header.instructions_digest = instructions_digest(filters.arguments, filters.syscalls);
  std::string bytes(reinterpret_cast<const char*>(&header), sizeof header);
  bytes.append(reinterpret_cast<const char*>(filters.arguments.data()), filters.arguments.size() * sizeof(struct sock_filter));
  bytes.append(reinterpret_cast<const char*>(filters.syscalls.data()), filters.syscalls.size() * sizeof(struct sock_filter));

  // A unique temporary name, then rename: concurrent launches each write
  // their own file, and a reader sees either no entry or a whole one.
  const fs::path temporary = path.string() + ".tmp-" + new_run_id();
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return "open(" + quote(temporary.string()) + "): " + errno_name(errno);
  const bool written = ::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  const int write_errno = errno;
  fd.reset();
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int err = written ? errno : write_errno;
    ::unlink(temporary.c_str());
    return "writing " + quote(path.string()) + ": " + errno_name(err);
  }
  return std::nullopt;
}

}  // namespace

const std::string& executable_build_id() {
  static const std::string id = [] {
    std::string found;
    ::dl_iterate_phdr(find_build_id, &found);
    return found;
  }();
  return id;
}

std::string seccomp_cache_key(const policy::SeccompSpec& spec, const std::string& build_id) {
  return hex(key_of(spec, build_id));
}

std::string seccomp_cache_key(const policy::SeccompSpec& spec) { return seccomp_cache_key(spec, executable_build_id()); }

LoadedSeccomp load_or_compile_seccomp(const policy::SeccompSpec& spec, const fs::path& cache_dir) {
  LoadedSeccomp loaded;
  if (cache_dir.empty()) {
    loaded.filters = compile_seccomp(policy::make_seccomp_plan(spec));
    loaded.cache_note = "cache disabled";
    return loaded;
  }
  if (sodium_init() < 0) throw Error("libsodium failed to initialise", exit_code::runner_failed);
  const auto key = key_of(spec, executable_build_id());
  const auto path = cache_dir / (hex(key) + ".bpf");
  // A directory others could write is not trusted even for reading.
  struct stat st {};
  const bool exists = ::lstat(cache_dir.c_str(), &st) == 0;
  if (exists && (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)) {
    loaded.filters = compile_seccomp(policy::make_seccomp_plan(spec));
    loaded.cache_note = "cache not used: " + quote(cache_dir.string()) + " is not a 0700 directory of uid " +
                        std::to_string(::geteuid());
    return loaded;
  }
  if (!exists) loaded.cache_note = "not cached yet";
  if (auto cached = exists ? read_entry(path, key, loaded.cache_note) : std::nullopt) {
    loaded.filters = std::move(*cached);
    loaded.filters.log_denials = spec.log_denials;
    loaded.filters.listener = spec.count_denials;
    loaded.from_cache = true;
    return loaded;
  }
  loaded.filters = compile_seccomp(policy::make_seccomp_plan(spec));
  auto problem = ensure_private_directory(cache_dir);
  if (!problem) problem = write_entry(path, key, loaded.filters);
  if (problem) loaded.cache_note += "; not stored: " + *problem;
  return loaded;
}

}  // namespace tierbox::stages
