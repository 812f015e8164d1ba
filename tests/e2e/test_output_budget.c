/* End-to-end: clients that pipeline requests and never read pin at most the server's output
 * budget (--max-output-total) plus a small squeeze allowance each, not --max-output each; a
 * well-behaved client is answered meanwhile, and the memory goes when they go. */
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "e2e.h"
#include "net_int.h"

#define BUDGET (16u << 20)      /* --max-output-total for this test */
#define N_NONREADERS 48
#define N_REQ 4000              /* pipelined searches per non-reader (~2 KB answers each) */

static void setup(void) {
  e2e_setup_args((const char *[]){"--max-output-total", "16777216", "--threads", "2", NULL});
}
TestSuite(output_budget, .init = setup, .fini = e2e_teardown, .timeout = 120);

static int raw_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  int small = 4096; /* keep what the kernel buffers for us small: the server's queue shows */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* One search request frame (40 results of ~50 bytes: a ~2 KB answer). */
static size_t search_frame(unsigned char *out, size_t cap) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  PK_S(&pk, "id"); msgpack_pack_uint32(&pk, 7);
  PK_S(&pk, "op"); PK_S(&pk, "search");
  PK_S(&pk, "prefix"); PK_S(&pk, "普通测试");
  PK_S(&pk, "limit"); msgpack_pack_uint32(&pk, 40);
  cr_assert(sb.size + 4 <= cap);
  out[0] = (unsigned char)(sb.size >> 24);
  out[1] = (unsigned char)(sb.size >> 16);
  out[2] = (unsigned char)(sb.size >> 8);
  out[3] = (unsigned char)sb.size;
  memcpy(out + 4, sb.data, sb.size);
  size_t n = sb.size + 4;
  msgpack_sbuffer_destroy(&sb);
  return n;
}

static uint64_t stat_u64(const cx_client_resp *r, const char *section, const char *key) {
  const msgpack_object *o = cx_mpo_get(cx_mpo_get(r->result, section), key);
  cr_assert(o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "stats %s.%s", section, key);
  return o->via.u64;
}

static uint64_t server_rss_kb(void) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)g_srv.pid);
  FILE *f = fopen(path, "r");
  cr_assert(f);
  uint64_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtoull(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

Test(output_budget, non_readers_pin_the_budget_not_max_output_each) {
  unsigned char frame[256];
  size_t fl = search_frame(frame, sizeof frame);
  unsigned char *burst = malloc(fl * N_REQ);
  for (unsigned i = 0; i < N_REQ; i++) memcpy(burst + (size_t)i * fl, frame, fl);
  int fds[N_NONREADERS];
  size_t sent[N_NONREADERS];
  for (int i = 0; i < N_NONREADERS; i++) {
    fds[i] = raw_connect();
    sent[i] = 0;
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
  }
  cx_client *admin = e2e_connect_as(TOK_ADMIN);
  /* Push requests until no non-reader can send more and the server's queue stops growing. */
  uint64_t last = 0, q = 0, stable_since = 0;
  for (int round = 0; round < 400; round++) {
    for (int i = 0; i < N_NONREADERS; i++) {
      while (sent[i] < fl * N_REQ) {
        ssize_t k = send(fds[i], burst + sent[i], fl * N_REQ - sent[i], MSG_NOSIGNAL);
        if (k <= 0) break;
        sent[i] += (size_t)k;
      }
    }
    cx_client_resp r = e2e_call(admin, "stats", NULL);
    assert_ok(&r);
    q = stat_u64(&r, "connections", "output_queued");
    if (q != last) {
      last = q;
      stable_since = (uint64_t)round;
    } else if ((uint64_t)round - stable_since >= 10 && q > 0) {
      break;
    }
    usleep(50000);
  }
  cx_client_resp r = e2e_call(admin, "stats", NULL);
  assert_ok(&r);
  q = stat_u64(&r, "connections", "output_queued");
  uint64_t squeezed = stat_u64(&r, "connections", "squeezed");
  uint64_t rss = server_rss_kb();
  /* The budget, plus per connection the squeeze allowance and one answer past it, plus the
   * connections that filled max_output before the budget was reached (at most one loop's
   * budget worth of them, each overshooting by one answer). Without the budget this is
   * N_NONREADERS x 4 MiB = 192 MiB. */
  uint64_t bound = BUDGET + (uint64_t)N_NONREADERS * (CX_NET_OUTPUT_SQUEEZE + 8192) + (4u << 20);
  fprintf(stderr, "output_budget: queued %llu bytes (bound %llu), squeezed %llu, server RSS %llu kB\n",
          (unsigned long long)q, (unsigned long long)bound, (unsigned long long)squeezed,
          (unsigned long long)rss);
  cr_assert_gt(q, BUDGET / 2, "the non-readers did fill the queues (%llu)", (unsigned long long)q);
  cr_assert_leq(q, bound, "queued output %llu over the bound %llu", (unsigned long long)q,
                (unsigned long long)bound);
  cr_assert_gt(squeezed, 0);
  /* Server memory follows: well under what 48 x 4 MiB would take. */
#if defined(__SANITIZE_ADDRESS__)
  cr_assert_lt(rss, 400u * 1024u, "server RSS %llu kB", (unsigned long long)rss);
#else
  cr_assert_lt(rss, 96u * 1024u, "server RSS %llu kB", (unsigned long long)rss);
#endif
  /* A well-behaved client is answered, correctly. */
  e2e_assert_alive();
  /* The non-readers go (reset): their queued output is released. */
  for (int i = 0; i < N_NONREADERS; i++) {
    struct linger lg = {1, 0};
    setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fds[i]);
  }
  for (int i = 0; i < 200; i++) {
    r = e2e_call(admin, "stats", NULL);
    assert_ok(&r);
    if (stat_u64(&r, "connections", "output_queued") == 0 && stat_u64(&r, "connections", "current") == 1) break;
    usleep(20000);
  }
  cr_assert_eq(stat_u64(&r, "connections", "output_queued"), 0);
  cr_assert_eq(stat_u64(&r, "connections", "current"), 1);
  cx_client_close(admin);
  e2e_assert_alive();
  free(burst);
}
