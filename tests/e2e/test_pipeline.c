/*
 * End-to-end: answers written once per loop iteration (net/server.c, flush_cb). A loop reads
 * and answers every connection its poll returned, then writes each one's output; these tests
 * hold it to what a client sees: every answer, right, in request order, whatever the others do
 * — connections that pipeline hundreds of checks in one send, one that reads a few bytes at a
 * time, connections that half-close after their last request (answered, then closed) and one
 * that goes away with answers pending. One thread drives every connection with poll(2); the
 * deadline only keeps a broken server from hanging the suite.
 */
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "e2e.h"
#include "net_int.h"

TestSuite(pipeline, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

#define PL_CONNS 12
#define PL_REQS 300           /* checks per connection, all in one send */
#define PL_SLOW_CHUNK 61      /* the slow reader's bytes per read */
#define PL_DEADLINE_MS 60000

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    cr_assert(k > 0, "send: %s", strerror(errno));
    p += k;
    n -= (size_t)k;
  }
}

/* Check k's code, action and the verdict the e2e store gives it. */
static void pick(unsigned k, char code[19], const char **action, const char **verdict) {
  switch (k % 4) {
  case 0: e2e_code("91", E2E_BLACK, code); *action = "procurement"; *verdict = "deny"; break;
  case 1: e2e_code("91", 100 + k % E2E_N_PLAIN, code); *action = "procurement"; *verdict = "clear"; break;
  case 2: e2e_code("91", 500000 + k % 1000, code); *action = "procurement"; *verdict = "not_found"; break;
  default: e2e_code("91", E2E_REVIEW, code); *action = "license"; *verdict = "review"; break;
  }
}

static void frame(msgpack_sbuffer *all, const msgpack_sbuffer *body) {
  unsigned char h[4];
  cx_frame_header(h, (uint32_t)body->size);
  msgpack_sbuffer_write(all, (const char *)h, 4);
  msgpack_sbuffer_write(all, body->data, body->size);
}

/* auth (id 0), then checks id 1..n of connection c (k = c + id picks the check). */
static void pack_requests(msgpack_sbuffer *all, unsigned c, unsigned n) {
  msgpack_sbuffer b;
  msgpack_sbuffer_init(&b);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 3);
  PK_S(&pk, "id"); msgpack_pack_uint32(&pk, 0);
  PK_S(&pk, "op"); PK_S(&pk, "auth");
  PK_S(&pk, "token"); PK_S(&pk, TOK_APPROVAL);
  frame(all, &b);
  for (unsigned i = 1; i <= n; i++) {
    char code[19];
    const char *action, *verdict;
    pick(c + i, code, &action, &verdict);
    msgpack_sbuffer_clear(&b);
    msgpack_pack_map(&pk, 5);
    PK_S(&pk, "id"); msgpack_pack_uint32(&pk, i);
    PK_S(&pk, "op"); PK_S(&pk, "check");
    PK_S(&pk, "codes"); msgpack_pack_array(&pk, 1); PK_S(&pk, code);
    PK_S(&pk, "action"); PK_S(&pk, action);
    PK_S(&pk, "as_of"); PK_S(&pk, "2024-07-01");
    frame(all, &b);
  }
  msgpack_sbuffer_destroy(&b);
}

typedef struct plconn {
  int fd;
  unsigned idx;
  int slow, eof;
  unsigned next;          /* the id the next answer must have */
  unsigned char *in;
  size_t len, cap;
} plconn;

/* Checks every complete answer in c->in: id in order, ok, the verdict of its check. */
static void take_answers(plconn *c) {
  size_t off = 0;
  while (c->len - off >= 4) {
    const unsigned char *p = c->in + off;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (c->len - off - 4 < n) break;
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t u = 0;
    cr_assert_eq(msgpack_unpack((const char *)p + 4, n, &u, &z, &o), MSGPACK_UNPACK_SUCCESS);
    unsigned id = (unsigned)cx_mpo_int(cx_mpo_get(&o, "id"), -1);
    cr_assert_eq(id, c->next, "connection %u: answer %u where %u was due", c->idx, id, c->next);
    const msgpack_object *ok = cx_mpo_get(&o, "ok");
    cr_assert(ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean, "connection %u: answer %u not ok",
              c->idx, id);
    if (id > 0) {
      char code[19];
      const char *action, *verdict;
      pick(c->idx + id, code, &action, &verdict);
      const msgpack_object *res = cx_mpo_get(cx_mpo_get(&o, "result"), "results");
      cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1);
      cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[0], "verdict"), verdict),
                "connection %u answer %u: not %s", c->idx, id, verdict);
    }
    msgpack_zone_destroy(&z);
    c->next++;
    off += 4 + n;
  }
  memmove(c->in, c->in + off, c->len - off);
  c->len -= off;
}

/* Drives the connections until each has seen its EOF; reads the slow one PL_SLOW_CHUNK bytes at
 * a time, one read per round. */
static void drive(plconn *cs, unsigned n) {
  uint64_t t0 = now_ms();
  unsigned open = n;
  while (open) {
    cr_assert(now_ms() - t0 < PL_DEADLINE_MS, "deadline: %u connections without their answers", open);
    struct pollfd p[PL_CONNS];
    for (unsigned i = 0; i < n; i++) p[i] = (struct pollfd){.fd = cs[i].eof ? -1 : cs[i].fd, .events = POLLIN};
    if (poll(p, n, 100) < 0) continue;
    for (unsigned i = 0; i < n; i++) {
      plconn *c = &cs[i];
      if (c->eof || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (c->cap - c->len < 65536) {
        c->cap = c->cap * 2 + 65536;
        c->in = realloc(c->in, c->cap);
        cr_assert(c->in);
      }
      size_t want = c->slow ? PL_SLOW_CHUNK : c->cap - c->len;
      ssize_t k = recv(c->fd, c->in + c->len, want, 0);
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      cr_assert(k >= 0, "connection %u: %s", c->idx, strerror(errno));
      if (k == 0) {
        c->eof = 1;
        open--;
        continue;
      }
      c->len += (size_t)k;
      take_answers(c);
    }
  }
}

Test(pipeline, pipelined_checks_on_many_connections_and_a_slow_reader_get_every_answer_in_order) {
  plconn cs[PL_CONNS];
  memset(cs, 0, sizeof cs);
  for (unsigned i = 0; i < PL_CONNS; i++) {
    cs[i].fd = e2e_raw_connect(0);
    cs[i].idx = i;
    cs[i].slow = i == 0;
  }
  /* every request of every connection first, each in one send, then the half-closes: the
   * server sees many connections with hundreds of frames each in the same polls */
  for (unsigned i = 0; i < PL_CONNS; i++) {
    msgpack_sbuffer all;
    msgpack_sbuffer_init(&all);
    pack_requests(&all, i, PL_REQS);
    send_all(cs[i].fd, all.data, all.size);
    msgpack_sbuffer_destroy(&all);
  }
  for (unsigned i = 0; i < PL_CONNS; i++) shutdown(cs[i].fd, SHUT_WR);
  drive(cs, PL_CONNS);
  for (unsigned i = 0; i < PL_CONNS; i++) {
    cr_assert_eq(cs[i].next, PL_REQS + 1, "connection %u: %u answers of %u before the close", i, cs[i].next,
                 PL_REQS + 1);
    cr_assert_eq(cs[i].len, 0, "connection %u: %zu bytes of a partial answer", i, cs[i].len);
    close(cs[i].fd);
    free(cs[i].in);
  }
  e2e_assert_alive();
}

Test(pipeline, a_connection_gone_with_answers_pending_leaves_the_others_answered) {
  /* one asks for many answers and closes at once (its answers wait to be written when it goes);
   * the one after it is answered in full */
  for (int round = 0; round < 20; round++) {
    plconn cs[2];
    memset(cs, 0, sizeof cs);
    for (unsigned i = 0; i < 2; i++) {
      cs[i].fd = e2e_raw_connect(0);
      cs[i].idx = i;
      msgpack_sbuffer all;
      msgpack_sbuffer_init(&all);
      pack_requests(&all, i, 50);
      send_all(cs[i].fd, all.data, all.size);
      msgpack_sbuffer_destroy(&all);
    }
    close(cs[0].fd);
    shutdown(cs[1].fd, SHUT_WR);
    drive(&cs[1], 1);
    cr_assert_eq(cs[1].next, 51, "round %d: %u answers of 51", round, cs[1].next);
    close(cs[1].fd);
    free(cs[1].in);
  }
  e2e_assert_alive();
}
