// Runs inside the virtio-mem guest (tests/guest/), linked statically since
// the initramfs holds no C++ library. Asked by the harness at each resize
// checkpoint, before the guest may have to give memory back, it reports on
// the console (one parseable line each):
//   vmemcheck-pattern: memtotal=KIB allocated=MIB device=MIB mismatches=N
//     the RAM the kernel manages, and a pattern written into up to 256 MiB of free memory and read back, with
//     how much of it lies in the device's range (from /proc/self/pagemap);
//   vmemcheck-online: START-LAST,...
//     the memory blocks online inside the device's range (sysfs), which the
//     harness checks against the blocks QEMU has plugged: memory never
//     given must not have come online as RAM.
//
//   guest_memory_check DEVICE_START DEVICE_SIZE
//
// Across a migration (issue 24, item 3) it holds its pattern instead:
//   guest_memory_check hold DEVICE_START DEVICE_SIZE
// writes the pattern, says "vmemcheck-hold: allocated=MIB device=MIB", then
// passes over it again and again, each word read (a wrong one counted) and
// written back, so the guest dirties its memory while QEMU migrates it;
// on SIGUSR1 it checks every word once more and reports the usual
// vmemcheck-pattern line, its mismatches those of every pass.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kPage = 4096;
// Left free, so the kernel and busybox keep running while the pattern holds memory.
constexpr uint64_t kReserve = 64ull << 20;
// At most this much: under TCG a pass over 256 MiB takes seconds, and memory
// held while the harness resizes would keep the driver from unplugging it.
constexpr uint64_t kMaxPattern = 256ull << 20;

uint64_t meminfo_kib(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t value = 0;
  std::string unit;
  while (in >> name >> value) {
    if (name == key + ":") return value;
    std::getline(in, unit);
  }
  return 0;
}

// The physical address backing a virtual one, 0 when not present (pagemap: bit 63 present, bits 0-54 PFN).
uint64_t physical(int pagemap, const void* virt) {
  uint64_t entry = 0;
  const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(virt) / kPage * sizeof entry);
  if (pread(pagemap, &entry, sizeof entry, at) != sizeof entry || !(entry >> 63)) return 0;
  return (entry & ((1ull << 55) - 1)) * kPage;
}

// A pattern word that differs per address and per run, so stale data never passes.
uint64_t pattern(const uint64_t* at, uint64_t run) { return reinterpret_cast<uintptr_t>(at) * 0x9e3779b97f4a7c15ull ^ run; }

volatile sig_atomic_t released = 0;

void release(int) { released = 1; }

void check_pattern(uint64_t device_start, uint64_t device_size, bool hold) {
  const uint64_t free_bytes = meminfo_kib("MemAvailable") * 1024;
  const uint64_t bytes = free_bytes > 2 * kReserve ? std::min(free_bytes - kReserve, kMaxPattern) / kPage * kPage : 0;
  auto* words = static_cast<uint64_t*>(
      bytes ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) : MAP_FAILED);
  if (words == MAP_FAILED) {
    std::printf("vmemcheck-pattern: memtotal=%llu allocated=0 device=0 mismatches=0\n",
                static_cast<unsigned long long>(meminfo_kib("MemTotal")));
    return;
  }
  const uint64_t count = bytes / sizeof *words, run = static_cast<uint64_t>(getpid()) << 32 | meminfo_kib("MemFree");
  for (uint64_t i = 0; i < count; ++i) words[i] = pattern(&words[i], run);
  uint64_t mismatches = 0, in_device = 0;
  const int pagemap = open("/proc/self/pagemap", 0);
  for (uint64_t page = 0; page < bytes / kPage; ++page) {
    const uint64_t phys = physical(pagemap, reinterpret_cast<char*>(words) + page * kPage);
    in_device += phys >= device_start && phys - device_start < device_size;
  }
  close(pagemap);
  if (hold) {
    std::printf("vmemcheck-hold: allocated=%llu device=%llu\n", static_cast<unsigned long long>(bytes >> 20),
                static_cast<unsigned long long>(in_device * kPage >> 20));
    std::fflush(stdout);
    while (!released) {
      for (uint64_t i = 0; i < count && !released; ++i) {
        const uint64_t expected = pattern(&words[i], run);
        mismatches += words[i] != expected;
        words[i] = expected;
      }
    }
  }
  for (uint64_t i = 0; i < count; ++i) mismatches += words[i] != pattern(&words[i], run);
  munmap(words, bytes);
  std::printf("vmemcheck-pattern: memtotal=%llu allocated=%llu device=%llu mismatches=%llu\n",
              static_cast<unsigned long long>(meminfo_kib("MemTotal")), static_cast<unsigned long long>(bytes >> 20), static_cast<unsigned long long>(in_device * kPage >> 20),
              static_cast<unsigned long long>(mismatches));
}

uint64_t read_hex(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text;
  in >> text;
  return std::strtoull(text.c_str(), nullptr, 16);
}

void list_online(uint64_t device_start, uint64_t device_size) {
  const std::filesystem::path root = "/sys/devices/system/memory";
  const uint64_t block = read_hex(root / "block_size_bytes");
  std::vector<uint64_t> starts;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.path().filename().string().starts_with("memory")) continue;
    std::ifstream state_file(entry.path() / "state");
    std::string state;
    state_file >> state;
    std::ifstream index_file(entry.path() / "phys_index");
    std::string index;
    index_file >> index;
    const uint64_t start = std::strtoull(index.c_str(), nullptr, 16) * block;
    if (state == "online" && start >= device_start && start - device_start < device_size) starts.push_back(start);
  }
  std::sort(starts.begin(), starts.end());
  std::string text;
  for (const uint64_t start : starts) {
    char range[64];
    std::snprintf(range, sizeof range, "%s%#llx-%#llx", text.empty() ? "" : ",", static_cast<unsigned long long>(start),
                  static_cast<unsigned long long>(start + block - 1));
    text += range;
  }
  std::printf("vmemcheck-online: %s\n", text.empty() ? "none" : text.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const bool hold = argc == 4 && std::string(argv[1]) == "hold";
  if (argc != 3 && !hold) {
    std::fprintf(stderr, "usage: guest_memory_check [hold] DEVICE_START DEVICE_SIZE\n");
    return 2;
  }
  const uint64_t start = std::strtoull(argv[argc - 2], nullptr, 0), size = std::strtoull(argv[argc - 1], nullptr, 0);
  if (hold) {
    signal(SIGUSR1, release);
    check_pattern(start, size, true);
    return 0;
  }
  list_online(start, size);
  check_pattern(start, size, false);
  return 0;
}
