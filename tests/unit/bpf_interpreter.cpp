#include "unit/bpf_interpreter.h"

#include <cstddef>
#include <cstring>

namespace tierbox::testing {
namespace {

constexpr std::uint32_t kDataSize = sizeof(struct seccomp_data);

std::uint32_t load_word(const SyscallCall& call, std::uint32_t offset) {
  struct seccomp_data data {};
  data.nr = call.nr;
  data.arch = call.arch;
  data.instruction_pointer = 0;
  for (int i = 0; i < 6; ++i) data.args[i] = call.args[i];
  std::uint32_t word = 0;
  std::memcpy(&word, reinterpret_cast<const char*>(&data) + offset, sizeof word);
  return word;
}

bool is_jump(std::uint16_t code) { return BPF_CLASS(code) == BPF_JMP; }

}  // namespace

std::optional<std::string> check_seccomp_program(std::span<const struct sock_filter> program) {
  if (program.empty() || program.size() > BPF_MAXINSNS) return "program length " + std::to_string(program.size());
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const auto& insn = program[pc];
    const std::string at = "instruction " + std::to_string(pc) + ": ";
    switch (insn.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        // seccomp only allows 32-bit aligned loads inside seccomp_data.
        if (insn.k >= kDataSize || insn.k % 4 != 0) return at + "load outside seccomp_data at " + std::to_string(insn.k);
        break;
      case BPF_LD | BPF_W | BPF_LEN:
      case BPF_LDX | BPF_W | BPF_LEN:
      case BPF_LD | BPF_IMM:
      case BPF_LDX | BPF_IMM:
      case BPF_MISC | BPF_TAX:
      case BPF_MISC | BPF_TXA:
      case BPF_RET | BPF_K:
      case BPF_RET | BPF_A:
      case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
      case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
      case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
      case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
      case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
      case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
      case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X:
      case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X:
      case BPF_ALU | BPF_NEG:
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (insn.k >= BPF_MEMWORDS) return at + "scratch memory index " + std::to_string(insn.k);
        break;
      case BPF_JMP | BPF_JA:
        if (insn.k >= program.size() - pc - 1) return at + "jump out of the program";
        break;
      case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
      case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
      case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
      case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
        if (pc + 1 + insn.jt >= program.size() || pc + 1 + insn.jf >= program.size())
          return at + "conditional jump out of the program";
        break;
      default:
        return at + "opcode " + std::to_string(insn.code) + " is not allowed in a seccomp filter";
    }
  }
  const auto last = program.back().code;
  if (BPF_CLASS(last) != BPF_RET) return "the last instruction is not a return";
  return std::nullopt;
}

std::uint32_t run_seccomp_program(std::span<const struct sock_filter> program, const SyscallCall& call) {
  std::uint32_t a = 0, x = 0, memory[BPF_MEMWORDS] = {};
  std::size_t pc = 0;
  // Classic BPF only jumps forward, so this ends within program.size() steps.
  while (pc < program.size()) {
    const auto& insn = program[pc++];
    const std::uint32_t operand = BPF_SRC(insn.code) == BPF_X ? x : insn.k;
    switch (insn.code) {
      case BPF_LD | BPF_W | BPF_ABS: a = load_word(call, insn.k); break;
      case BPF_LD | BPF_W | BPF_LEN: a = kDataSize; break;
      case BPF_LDX | BPF_W | BPF_LEN: x = kDataSize; break;
      case BPF_LD | BPF_IMM: a = insn.k; break;
      case BPF_LDX | BPF_IMM: x = insn.k; break;
      case BPF_LD | BPF_MEM: a = memory[insn.k]; break;
      case BPF_LDX | BPF_MEM: x = memory[insn.k]; break;
      case BPF_ST: memory[insn.k] = a; break;
      case BPF_STX: memory[insn.k] = x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_RET | BPF_K: return insn.k;
      case BPF_RET | BPF_A: return a;
      case BPF_JMP | BPF_JA: pc += insn.k; break;
      default:
        if (is_jump(insn.code)) {
          bool taken = false;
          switch (BPF_OP(insn.code)) {
            case BPF_JEQ: taken = a == operand; break;
            case BPF_JGE: taken = a >= operand; break;
            case BPF_JGT: taken = a > operand; break;
            case BPF_JSET: taken = (a & operand) != 0; break;
          }
          pc += taken ? insn.jt : insn.jf;
          break;
        }
        switch (BPF_OP(insn.code)) {
          case BPF_ADD: a += operand; break;
          case BPF_SUB: a -= operand; break;
          case BPF_MUL: a *= operand; break;
          case BPF_AND: a &= operand; break;
          case BPF_OR: a |= operand; break;
          case BPF_XOR: a ^= operand; break;
          case BPF_LSH: a = operand < 32 ? a << operand : 0; break;
          case BPF_RSH: a = operand < 32 ? a >> operand : 0; break;
          case BPF_NEG: a = 0 - a; break;
        }
    }
  }
  return SECCOMP_RET_KILL_PROCESS;  // unreachable for a checked program
}

std::uint32_t most_restrictive(std::uint32_t a, std::uint32_t b) {
  const auto action = [](std::uint32_t verdict) { return static_cast<std::int32_t>(verdict & SECCOMP_RET_ACTION_FULL); };
  return action(b) < action(a) ? b : a;
}

std::string describe_verdict(std::uint32_t verdict) {
  const std::uint32_t data = verdict & SECCOMP_RET_DATA;
  switch (verdict & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD: return "KILL_THREAD";
    case SECCOMP_RET_TRAP: return "TRAP";
    case SECCOMP_RET_ERRNO: return "ERRNO(" + std::to_string(data) + ")";
    case SECCOMP_RET_USER_NOTIF: return "USER_NOTIF";
    case SECCOMP_RET_TRACE: return "TRACE";
    case SECCOMP_RET_LOG: return "LOG";
    case SECCOMP_RET_ALLOW: return "ALLOW";
  }
  return "unknown " + std::to_string(verdict);
}

}  // namespace tierbox::testing
