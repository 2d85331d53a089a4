#include "launch/run_inputs.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

#include "common/errors.h"

namespace tierbox::launch {
namespace {

// execve takes at most a quarter of the stack limit for argv and the
// environment (MAX_ARG_STRLEN 128 KiB each string); 16 MiB of address space
// holds any of that with its pointers.
constexpr std::size_t kAreaSize = 16u << 20;

// Places strings and pointer arrays one after the other in the block.
class Writer {
 public:
  Writer(char* base, std::size_t used) : base_(base), used_(used) {}
  void* take(std::size_t size, std::size_t align) {
    used_ = (used_ + align - 1) / align * align;
    if (used_ + size > kAreaSize)
      throw Error("the command line and environment do not fit in the run's inputs (" + std::to_string(kAreaSize) +
                      " bytes)", exit_code::runner_failed);
    void* at = base_ + used_;
    used_ += size;
    return at;
  }
  const char* string(const std::string& text) {
    auto* at = static_cast<char*>(take(text.size() + 1, 1));
    std::memcpy(at, text.c_str(), text.size() + 1);
    return at;
  }
  char** strings(const std::vector<std::string>& texts) {
    auto** array = static_cast<char**>(take(sizeof(char*) * (texts.size() + 1), alignof(char*)));
    for (std::size_t i = 0; i < texts.size(); ++i) array[i] = const_cast<char*>(string(texts[i]));
    array[texts.size()] = nullptr;
    return array;
  }

 private:
  char* base_;
  std::size_t used_;
};

}  // namespace

RunInputsArea::RunInputsArea() {
  void* area = ::mmap(nullptr, kAreaSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (area == MAP_FAILED) throw_sys_error("mmap(" + std::to_string(kAreaSize) + ", MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE)");
  base_ = static_cast<char*>(area);
  new (base_) RunInputs{};
}

RunInputsArea::~RunInputsArea() {
  if (base_) ::munmap(base_, kAreaSize);
}

void RunInputsArea::fill(const policy::LaunchPlan& plan) {
  if (plan.rlimits.size() > kMaxRunRlimits)
    throw Error("more than " + std::to_string(kMaxRunRlimits) + " rlimits in the plan", exit_code::runner_failed);
  auto* inputs = reinterpret_cast<RunInputs*>(base_);
  Writer writer(base_, sizeof(RunInputs));
  inputs->argv = writer.strings(plan.argv);
  inputs->envp = writer.strings(plan.env);
  inputs->exec_path = writer.string(plan.exec_path);
  inputs->exec_search_path = writer.string(plan.exec_search_path);
  inputs->cwd = writer.string(plan.cwd);
  inputs->rlimit_count = plan.rlimits.size();
  std::copy(plan.rlimits.begin(), plan.rlimits.end(), inputs->rlimits);
}

}  // namespace tierbox::launch
