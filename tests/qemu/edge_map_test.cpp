// The QEMU built by scripts/build-qemu counts its edges where
// VMEMCHECK_EDGE_MAP says (qemu/source-build/edge_map.c): into the window
// OFFSET..OFFSET+SIZE of a fuzzer's shared memory, nothing outside it.
// usage: edge_map_test QEMU_BINARY
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr size_t kMapSize = 1 << 16;
constexpr size_t kOffset = 1000, kWindow = 4096;  // a window inside the map, as a harness would give QEMU

// Runs `qemu -version` with the map attached; its exit status.
int run_qemu(const char* qemu, int shm_id) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string spec = std::to_string(shm_id) + "," + std::to_string(kOffset) + "," + std::to_string(kWindow);
    setenv("VMEMCHECK_EDGE_MAP", spec.c_str(), 1);
    setenv("LLVM_PROFILE_FILE", "/dev/null", 1);  // its coverage profile, else written into the working folder
    execl(qemu, qemu, "-version", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: edge_map_test QEMU_BINARY\n");
    return 2;
  }
  const int shm_id = shmget(IPC_PRIVATE, kMapSize, IPC_CREAT | 0600);
  if (shm_id < 0) {
    std::perror("shmget");
    return 1;
  }
  auto* map = static_cast<uint8_t*>(shmat(shm_id, nullptr, 0));
  shmctl(shm_id, IPC_RMID, nullptr);  // freed once both have detached
  const int status = run_qemu(argv[1], shm_id);
  size_t inside = 0, outside = 0;
  for (size_t i = 0; i < kMapSize; ++i) {
    if (map[i] == 0) continue;
    (i >= kOffset && i < kOffset + kWindow ? inside : outside)++;
  }
  std::printf("qemu -version: exit status %d; %zu bytes of the window counted edges, %zu outside it\n", status,
              inside, outside);
  return status == 0 && inside > 0 && outside == 0 ? 0 : 1;
}
