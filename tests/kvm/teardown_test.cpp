// Nothing leaks: machines on real KVM close their file descriptors and unmap
// their memory when they go, however many come and go.
#include <dirent.h>

#include <fstream>
#include <string>

#include "kvm_fixture.hpp"

namespace vmemcheck::kvm {
namespace {

size_t open_fds() {
  size_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) ++count;
    closedir(dir);
  }
  return count;
}

size_t mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t count = 0;
  for (std::string line; std::getline(maps, line);) ++count;
  return count;
}

class Teardown : public KvmTest {};

TEST_F(Teardown, MachinesReleaseFdsAndMappings) {
  const char* scenario = R"(
machine base=0x140000000 size=2T smm=on
device vmem0 size=1T block=2M requested=4G mode=dynamic
device vmem1 size=64G block=2M requested=4G mode=count memslots=8
plug vmem0 +0 100 => ACK
plug vmem1 +1G 100 => ACK
write vmem0 +8 0x1 => ok
)";
  ASSERT_TRUE(run_on_kvm(scenario).empty());  // the first run warms up allocator and libraries
  const size_t fds = open_fds();
  const size_t maps = mappings();
  for (int i = 0; i < 20; ++i) {
    const auto problems = run_on_kvm(scenario);
    ASSERT_TRUE(problems.empty()) << problems.front();
  }
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(mappings(), maps);
}

}  // namespace
}  // namespace vmemcheck::kvm
