#include "vcpu_probe.hpp"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace vmemcheck::kvm {
namespace {

// The probe program, at GPA 0. In: rax = 0 (read) or 1 (write), rdi = GPA,
// rsi = value. A read leaves the value in rbx and reports on port 0x10, a
// write reports on port 0x11.
constexpr std::array<uint8_t, 20> kProgram = {
    0x85, 0xc0,        // 0x00: test eax, eax
    0x75, 0x07,        // 0x02: jnz 0x0b
    0x48, 0x8b, 0x1f,  // 0x04: mov rbx, [rdi]
    0xe6, 0x10,        // 0x07: out 0x10, al
    0xeb, 0xf5,        // 0x09: jmp 0x00
    0x48, 0x89, 0x37,  // 0x0b: mov [rdi], rsi
    0xe6, 0x11,        // 0x0e: out 0x11, al
    0xeb, 0xee,        // 0x10: jmp 0x00
    0xf4, 0xf4,        // 0x12: hlt (never reached)
};
// struct kvm_cpuid2 as the kernel lays it out. The uapi header declares its
// flexible array after an empty struct, which is 1 byte in C++: entries land
// at offset 12 instead of 8 and the ioctl numbers derived from its size are
// wrong. So the layout and the numbers are spelt out here.
constexpr uint32_t kMaxCpuidEntries = 256;
struct CpuidTable {
  uint32_t nent;
  uint32_t padding;
  kvm_cpuid_entry2 entries[kMaxCpuidEntries];
};
static_assert(offsetof(CpuidTable, entries) == 8);
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);

constexpr uint16_t kReadPort = 0x10;
constexpr uint16_t kWritePort = 0x11;

// Page tables: a PML4 at 0x1000 and 128 PDPTs after it, each mapping 512
// GiB with 1 GiB pages: GPA = linear address over [0, 2^46).
constexpr uint64_t kPml4 = 0x1000;
constexpr uint64_t kPdpts = 0x2000;
constexpr uint64_t kPml4Entries = 128;
constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kHugePage = 0x80;
constexpr uint64_t kReach = kPml4Entries << 39;  // 2^46: the TCG guest's phys-bits

void build_page_tables(uint8_t* memory) {
  auto* pml4 = reinterpret_cast<uint64_t*>(memory + kPml4);
  for (uint64_t i = 0; i < kPml4Entries; ++i) {
    const uint64_t pdpt_gpa = kPdpts + i * 0x1000;
    pml4[i] = pdpt_gpa | kPresentWritable;
    auto* pdpt = reinterpret_cast<uint64_t*>(memory + pdpt_gpa);
    for (uint64_t j = 0; j < 512; ++j) pdpt[j] = ((i * 512 + j) << 30) | kPresentWritable | kHugePage;
  }
}

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.g = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  return s;
}

std::string errno_text(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

}  // namespace

VcpuProbe::VcpuProbe(Fd vcpu, void* run, size_t run_size, void* memory)
    : vcpu_(std::move(vcpu)), run_(run), run_size_(run_size), memory_(memory) {}

VcpuProbe::~VcpuProbe() {
  munmap(run_, run_size_);
  munmap(memory_, kProbeMemorySize);
}

Result<std::unique_ptr<VcpuProbe>> VcpuProbe::create(RealKvmVm& vm, uint32_t slot_id) {
  static_assert(kPdpts + kPml4Entries * 0x1000 <= kProbeMemorySize);
  void* memory = mmap(nullptr, kProbeMemorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Error{errno_text("mmap of the probe memory")};
  auto* bytes = static_cast<uint8_t*>(memory);
  std::memcpy(bytes, kProgram.data(), kProgram.size());
  build_page_tables(bytes);
  const KvmRegion region{slot_id, 0, 0, kProbeMemorySize, reinterpret_cast<uint64_t>(memory)};
  if (const int rc = vm.set_user_memory_region(region); rc != 0) {
    munmap(memory, kProbeMemorySize);
    return Error{fmt::format("probe memslot {} failed: {}", describe(region), errno_name(rc))};
  }
  const auto fail = [&](std::string message) -> Error {
    munmap(memory, kProbeMemorySize);
    return Error{std::move(message)};
  };
  const int vcpu_fd = ioctl(vm.vm_fd(), KVM_CREATE_VCPU, 0);
  if (vcpu_fd < 0) return fail(errno_text("KVM_CREATE_VCPU"));
  Fd vcpu(vcpu_fd);
  const int run_size = ioctl(vm.system_fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return fail(errno_text("KVM_GET_VCPU_MMAP_SIZE"));
  void* run = mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0);
  if (run == MAP_FAILED) return fail(errno_text("mmap of kvm_run"));
  std::unique_ptr<VcpuProbe> probe(new VcpuProbe(std::move(vcpu), run, static_cast<size_t>(run_size), memory));

  // Long mode needs LM in the guest's CPUID (KVM checks EFER against it).
  auto cpuid = std::make_unique<CpuidTable>();
  cpuid->nent = kMaxCpuidEntries;
  if (ioctl(vm.system_fd(), kGetSupportedCpuid, cpuid.get()) != 0) return Error{errno_text("KVM_GET_SUPPORTED_CPUID")};
  if (ioctl(probe->vcpu_.get(), kSetCpuid2, cpuid.get()) != 0) return Error{errno_text("KVM_SET_CPUID2")};

  kvm_sregs sregs{};
  if (ioctl(probe->vcpu_.get(), KVM_GET_SREGS, &sregs) != 0) return Error{errno_text("KVM_GET_SREGS")};
  sregs.cs = flat_segment(0x8, 0xb, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x10, 0x3, false);
  sregs.tr.base = 0;
  sregs.tr.limit = 0x67;
  sregs.tr.selector = 0x18;
  sregs.tr.type = 0xb;  // busy 64-bit TSS
  sregs.tr.present = 1;
  sregs.cr3 = kPml4;
  sregs.cr4 = 0x20;                                     // PAE
  sregs.cr0 = 0x80000000u | 0x10000 | 0x20 | 0x10 | 0x1;  // PG | WP | NE | ET | PE
  sregs.efer = 0x500;                                   // LME | LMA
  if (ioctl(probe->vcpu_.get(), KVM_SET_SREGS, &sregs) != 0) return Error{errno_text("KVM_SET_SREGS")};
  return probe;
}

Result<ProbeAccess> VcpuProbe::access(uint64_t op, uint64_t gpa, uint64_t value) {
  // Beyond the identity map no guest can address the GPA: no memory there.
  if (gpa > kReach - sizeof(uint64_t)) return ProbeAccess{0, true};
  kvm_regs regs{};
  regs.rip = 0;
  regs.rflags = 0x2;
  regs.rax = op;
  regs.rdi = gpa;
  regs.rsi = value;
  if (ioctl(vcpu_.get(), KVM_SET_REGS, &regs) != 0) return Error{errno_text("KVM_SET_REGS")};
  auto* run = static_cast<kvm_run*>(run_);
  ProbeAccess result;
  // At most one MMIO exit, then the report; more means the program went astray.
  for (int exits = 0; exits < 4; ++exits) {
    if (ioctl(vcpu_.get(), KVM_RUN, 0) != 0) return Error{errno_text("KVM_RUN")};
    switch (run->exit_reason) {
      case KVM_EXIT_MMIO:
        if (run->mmio.phys_addr != gpa) {
          return Error{fmt::format("probe of {:#x}: MMIO exit at {:#x}", gpa, run->mmio.phys_addr)};
        }
        result.mmio_exit = true;
        if (!run->mmio.is_write) std::memset(run->mmio.data, 0, sizeof run->mmio.data);
        continue;  // KVM completes the access with our data on the next KVM_RUN
      case KVM_EXIT_IO: {
        const uint16_t expected = op == 0 ? kReadPort : kWritePort;
        if (run->io.port != expected) {
          return Error{fmt::format("probe of {:#x}: out to port {:#x}, expected {:#x}", gpa, run->io.port, expected)};
        }
        if (op == 0) {
          if (ioctl(vcpu_.get(), KVM_GET_REGS, &regs) != 0) return Error{errno_text("KVM_GET_REGS")};
          result.value = regs.rbx;
        }
        return result;
      }
      case KVM_EXIT_FAIL_ENTRY:
        return Error{fmt::format("probe of {:#x}: KVM_EXIT_FAIL_ENTRY, reason {:#x}", gpa,
                                 run->fail_entry.hardware_entry_failure_reason)};
      case KVM_EXIT_INTERNAL_ERROR:
        return Error{fmt::format("probe of {:#x}: KVM_EXIT_INTERNAL_ERROR, suberror {}", gpa, run->internal.suberror)};
      default:
        return Error{fmt::format("probe of {:#x}: unexpected exit reason {}", gpa, run->exit_reason)};
    }
  }
  return Error{fmt::format("probe of {:#x}: no report after 4 exits", gpa)};
}

Result<ProbeAccess> VcpuProbe::read(uint64_t gpa) { return access(0, gpa, 0); }

Result<ProbeAccess> VcpuProbe::write(uint64_t gpa, uint64_t value) { return access(1, gpa, value); }

bool VcpuProbe::load(uint64_t gpa, uint64_t& value) {
  auto result = read(gpa);
  if (!result) {
    errors_.push_back(result.error().message);
    return false;
  }
  value = result->value;
  return !result->mmio_exit;
}

bool VcpuProbe::store(uint64_t gpa, uint64_t value) {
  auto result = write(gpa, value);
  if (!result) {
    errors_.push_back(result.error().message);
    return false;
  }
  return !result->mmio_exit;
}

std::vector<std::string> VcpuProbe::take_errors() { return std::exchange(errors_, {}); }

}  // namespace vmemcheck::kvm
