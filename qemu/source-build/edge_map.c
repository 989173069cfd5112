// Edge coverage of an instrumented QEMU, counted in a map another process can
// read: a fuzzer's shared memory (issue 23, item 5: QEMU as a child of an
// AFL++ target writes its edges into the target's map).
//
// Why -fsanitize-coverage=trace-pc-guard with this runtime and not
// afl-clang-fast: AFL++'s runtime in a QEMU started by an AFL++-instrumented
// harness would number its edges from the same start as the harness's (they
// collide in one map), size the map on its own and try the forkserver
// handshake. Here the harness decides where in its map QEMU's edges go, and
// the rest of the build stays plain clang (ASan, UBSan, source coverage).
//
// VMEMCHECK_EDGE_MAP=SHMID,OFFSET,SIZE: edge i counts into byte
// OFFSET + i % SIZE of the System V shared memory SHMID. Without it (or if it
// cannot be attached) edges count into a private map nobody reads.
//
// Built by scripts/build-qemu without coverage flags (instrumenting these
// functions would recurse) and linked into every QEMU executable.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>

enum { kPrivateMapSize = 1 << 16 };

static uint8_t private_map[kPrivateMapSize];
static uint8_t* edge_map = private_map;
static uint32_t edge_offset = 0;
static uint32_t edge_map_size = kPrivateMapSize;
static uint32_t edges_numbered = 0;

static void attach_shared_map(void) {
  const char* spec = getenv("VMEMCHECK_EDGE_MAP");
  int shm_id;
  unsigned offset, size;
  if (spec == NULL) return;
  if (sscanf(spec, "%d,%u,%u", &shm_id, &offset, &size) != 3 || size == 0) {
    fprintf(stderr, "edge_map: VMEMCHECK_EDGE_MAP='%s' is not SHMID,OFFSET,SIZE; edges not shared\n", spec);
    return;
  }
  void* shared = shmat(shm_id, NULL, 0);
  if (shared == (void*)-1) {
    perror("edge_map: shmat");
    return;
  }
  edge_map = shared;
  edge_offset = offset;
  edge_map_size = size;
}

// Called by every instrumented module's constructor with its guards, one per
// edge; a guard holds the map index its edge counts into.
void __sanitizer_cov_trace_pc_guard_init(uint32_t* start, uint32_t* stop) {
  if (start == stop) return;
  if (edges_numbered == 0) attach_shared_map();
  for (uint32_t* guard = start; guard < stop; ++guard) {
    *guard = edge_offset + edges_numbered++ % edge_map_size;
  }
}

void __sanitizer_cov_trace_pc_guard(uint32_t* guard) { edge_map[*guard]++; }
