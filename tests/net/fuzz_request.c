/*
 * libFuzzer target: the frame parser, the bounded msgpack reader and the request decoder over
 * arbitrary bytes. Build (clang):
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCX_FUZZ=ON && cmake --build build-fuzz --target fuzz_request
 *   ./build-fuzz/bin/fuzz_request -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>

#include "net_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned char *pl;
  size_t plen, need;
  size_t off = 0;
  while (off < size) {
    long got = cx_frame_parse(data + off, size - off, 1 << 20, &pl, &plen, &need);
    if (got <= 0) break;
    cx_req rq;
    char msg[256];
    if (cx_exec_decode(&rq, pl, plen, msg, sizeof msg) == 0) {
      for (uint32_t i = 0; i < rq.nf; i++) {
        cx_mp v = rq.vals[i];
        cx_mp_skip(&v);
      }
    }
    off += (size_t)got;
  }
  cx_mp r = cx_mp_make(data, size);
  while (cx_mp_left(&r) && cx_mp_skip(&r) == 0) {
  }
  return 0;
}
