/*
 * End-to-end: fairness between the connections of one event loop. Issue "Bounded under abuse"
 * (c): 400 pipelined public `records` requests of an entity with many records stalled another
 * client's ping on the same loop for seconds, because every complete frame of a read was
 * handled before the loop went back to its other connections. Now a connection has at most
 * CX_NET_SLICE_FRAMES frames or CX_NET_SLICE_US handled before the others get their turn.
 *
 * Asserts behaviour, not speed: the ping is answered while most of the pipeline is still
 * waiting, and within a generous bound; the timing is printed (the figures are in bench/).
 */
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "e2e.h"
#include "net_int.h"

#define HEAVY_RECORDS 2000     /* records of the heavy entity (8.6 KB each) */
#define N_PIPELINED 400
#define PING_BOUND_MS 2000     /* generous: one slice plus one request is ~ms */

static void heavy_store(const char *db) { e2e_add_heavy_entity(db, E2E_HEAVY, HEAVY_RECORDS, 4096); }

static void setup(void) {
  g_e2e_store_hook = heavy_store;
  e2e_setup_args((const char *[]){"--threads", "1", NULL}); /* one loop: both clients on it */
  g_e2e_store_hook = NULL;
}
TestSuite(fairness, .init = setup, .fini = e2e_teardown, .timeout = 120);

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One records request that scans every record of the heavy entity and answers none of them
 * (a category it has no record of): the most work for the smallest answer. */
static size_t scan_frame(unsigned char *out, size_t cap, uint32_t id) {
  char code[19];
  e2e_code("91", E2E_HEAVY, code);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 5);
  PK_S(&pk, "id"); msgpack_pack_uint32(&pk, id);
  PK_S(&pk, "op"); PK_S(&pk, "records");
  PK_S(&pk, "code"); PK_S(&pk, code);
  PK_S(&pk, "category"); PK_S(&pk, "license");
  PK_S(&pk, "limit"); msgpack_pack_uint32(&pk, 1000);
  cr_assert(sb.size + 4 <= cap);
  cx_frame_header(out, (uint32_t)sb.size);
  memcpy(out + 4, sb.data, sb.size);
  size_t n = sb.size + 4;
  msgpack_sbuffer_destroy(&sb);
  return n;
}

/* Complete answer frames in buf[0..n) (the rest is a partial frame). */
static unsigned count_frames(const unsigned char *buf, size_t n) {
  unsigned k = 0;
  for (size_t off = 0; off + 4 <= n; k++) {
    size_t len = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 | (size_t)buf[off + 2] << 8 | buf[off + 3];
    if (off + 4 + len > n) break;
    off += 4 + len;
  }
  return k;
}

Test(fairness, a_ping_is_answered_while_another_connection_has_400_heavy_requests_in_its_pipeline) {
  /* The cost of one heavy request alone, for the record. */
  unsigned char f[256];
  int a = e2e_raw_connect(0);
  size_t fl = scan_frame(f, sizeof f, 1);
  uint64_t t0 = now_us();
  cr_assert_eq(send(a, f, fl, MSG_NOSIGNAL), (ssize_t)fl);
  static unsigned char rx[1 << 20];
  size_t n = 0;
  while (count_frames(rx, n) < 1) {
    ssize_t k = recv(a, rx + n, sizeof rx - n, 0);
    cr_assert_gt(k, 0);
    n += (size_t)k;
  }
  uint64_t one_us = now_us() - t0;
  msgpack_zone z;
  msgpack_zone_init(&z, 4096);
  msgpack_object o;
  size_t off = 0;
  cr_assert_eq(msgpack_unpack((const char *)rx + 4, n - 4, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
  cr_assert(cx_mpo_get(&o, "ok") && cx_mpo_get(&o, "ok")->via.boolean, "the scan is answered ok");
  msgpack_zone_destroy(&z);

  /* 400 of them in one send, then a ping from another connection. */
  unsigned char *burst = malloc(fl * N_PIPELINED);
  cr_assert(burst);
  for (unsigned i = 0; i < N_PIPELINED; i++) memcpy(burst + (size_t)i * fl, f, fl);
  cr_assert_eq(send(a, burst, fl * N_PIPELINED, MSG_NOSIGNAL), (ssize_t)(fl * N_PIPELINED));
  uint64_t p0 = now_us();
  cx_client *b = e2e_connect();
  cx_client_resp r = e2e_call(b, "ping", NULL);
  uint64_t ping_us = now_us() - p0;
  assert_ok(&r);
  /* What the pipeliner has been answered by the time the ping was. */
  n = 0;
  for (;;) {
    ssize_t k = recv(a, rx + n, sizeof rx - n, MSG_DONTWAIT);
    if (k <= 0) break;
    n += (size_t)k;
  }
  unsigned done_at_ping = count_frames(rx, n);
  /* Then the rest of the pipeline: every answer arrives. */
  uint64_t d0 = now_us();
  while (count_frames(rx, n) < N_PIPELINED) {
    struct pollfd p = {.fd = a, .events = POLLIN};
    cr_assert_gt(poll(&p, 1, 30000), 0, "the pipeline is answered (%u of %u)", count_frames(rx, n), N_PIPELINED);
    ssize_t k = recv(a, rx + n, sizeof rx - n, 0);
    cr_assert_gt(k, 0);
    n += (size_t)k;
  }
  uint64_t rest_us = now_us() - d0;
  fprintf(stderr, "fairness: one heavy request %.1f ms; ping answered in %.1f ms with %u of %u pipelined "
          "requests answered; the rest took %.0f ms more\n", one_us / 1e3, ping_us / 1e3, done_at_ping,
          N_PIPELINED, rest_us / 1e3);
  cr_assert_lt(done_at_ping, N_PIPELINED / 2, "the ping waited for %u of the %u heavy requests", done_at_ping,
               N_PIPELINED);
  cr_assert_lt(ping_us, (uint64_t)PING_BOUND_MS * 1000u, "ping answered in %.1f ms", ping_us / 1e3);
  free(burst);
  cx_client_close(b);
  close(a);
  e2e_assert_alive();
}
