/*
 * End-to-end: slow senders. Issue "Bounded under abuse" (b): 50 sockets sending one byte every
 * 1.5 s kept all 50 slots of --max-conns 50 --idle-timeout 2 through four timeouts, because
 * the idle timer restarted on every byte and nothing limited one address. Now:
 *   - the idle timer is reset by complete requests (and finished writes), never by bytes;
 *   - --frame-timeout S: a frame must be complete S seconds after its first byte (counted in
 *     stats as connections.frame_timeouts);
 *   - --max-conns-per-ip N: the next connection from that address gets one `busy` error frame
 *     and is closed (connections.rejected_per_ip).
 * Slow senders come from 127.0.0.2 (every 127/8 address is the loopback), the well-behaved
 * client from 127.0.0.1. The deadlines below only keep a broken server from hanging the suite.
 */
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "e2e.h"
#include "net_int.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A non-blocking TCP connection to the server from source address 127.0.0.<host>. */
static int connect_from(unsigned host) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  cr_assert(fd >= 0, "socket: %s", strerror(errno));
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl(0x7f000000u | host);
  cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof src), 0, "bind 127.0.0.%u: %s", host, strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
  cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  cr_assert_eq(poll(&p, 1, 5000), 1, "connect did not complete");
  return fd;
}

/* 1: the server closed fd (EOF or reset), after any frames it sent; 0: still open. Reads what
 * is there without blocking; *busy counts `busy` error frames seen. */
static int closed_by_server(int fd, int *busy) {
  unsigned char buf[4096];
  for (;;) {
    ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (k == 0) return 1;
    if (k < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    if (busy && memmem(buf, (size_t)k, "busy", 4)) (*busy)++;
  }
}

static const unsigned char g_ping[] = {0x00, 0x00, 0x00, 0x0d, 0x82, 0xa2, 'i', 'd', 0x05,
                                       0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};

static int64_t stat_conn(cx_client *a, const char *key) {
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  return cx_mpo_int(cx_mpo_get(cx_mpo_get(r.result, "connections"), key), -1);
}

/* A well-behaved client (from 127.0.0.1) asks and is answered right; 0 when the server was
 * busy (or closed it) instead. */
static int try_well_behaved(void) {
  cx_client *c = NULL;
  if (cx_client_connect("127.0.0.1", g_srv.port, 5000, &c)) return 0;
  cx_client_resp r;
  int ok = cx_client_call(c, "ping", 0, NULL, NULL, &r) == 0 && r.ok;
  cx_client_close(c);
  if (ok) e2e_assert_alive(); /* and a check with its right verdict */
  return ok;
}

/* ===================================================================== the idle timer */

static void setup_idle(void) {
  e2e_setup_args((const char *[]){"--max-conns", "50", "--idle-timeout", "2", "--frame-timeout", "0", NULL});
}
TestSuite(slow_idle, .init = setup_idle, .fini = e2e_teardown, .timeout = 60);

Test(slow_idle, single_bytes_do_not_keep_a_connection_from_idling) {
  enum { N = 50 };
  int fds[N], closed[N] = {0};
  for (int i = 0; i < N; i++) fds[i] = connect_from(2);
  /* Every slot is taken: a 51st client is refused. */
  cr_assert(!try_well_behaved(), "the 51st connection was served");
  /* One byte of a frame that never completes every 1.5 s, for four idle timeouts. */
  uint64_t t0 = now_ms(), closed_at = 0;
  size_t sent = 0;
  int n_closed = 0;
  while (now_ms() - t0 < 8000 && n_closed < N) {
    for (int i = 0; i < N; i++) {
      if (closed[i]) continue;
      if (closed_by_server(fds[i], NULL)) {
        closed[i] = 1;
        n_closed++;
        continue;
      }
      if (now_ms() - t0 >= sent * 1500u) {
        /* the bytes of a 1000-byte frame: it never ends */
        static const unsigned char frame[] = {0x00, 0x00, 0x03, 0xe8, 0x82, 0xa2, 'i', 'd', 0x05};
        if (send(fds[i], frame + sent % sizeof frame, 1, MSG_NOSIGNAL) < 0) {
          closed[i] = 1;
          n_closed++;
        }
      }
    }
    if (now_ms() - t0 >= sent * 1500u) sent++;
    if (n_closed == N && !closed_at) closed_at = now_ms() - t0;
    usleep(20000);
  }
  fprintf(stderr, "slow_idle: %d of %d byte-a-1.5-s senders closed by the server, the last after %llu ms\n",
          n_closed, N, (unsigned long long)closed_at);
  cr_assert_eq(n_closed, N, "%d of %d dripping connections still open after 8 s (idle timeout 2 s)", N - n_closed, N);
  cr_assert(try_well_behaved(), "a slot is free again");
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cr_assert_geq(stat_conn(a, "idle_timeouts"), N);
  cx_client_close(a);
  for (int i = 0; i < N; i++) close(fds[i]);
}

Test(slow_idle, a_connection_that_keeps_asking_is_not_idle) {
  cx_client *c = e2e_connect();
  for (int i = 0; i < 5; i++) { /* 5 x 0.8 s: twice the idle timeout, a request in each second */
    cx_client_resp r = e2e_call(c, "ping", NULL);
    assert_ok(&r);
    usleep(800000);
  }
  cx_client_close(c);
}

/* ===================================================================== the frame deadline */

static void setup_frame(void) {
  e2e_setup_args((const char *[]){"--frame-timeout", "1", NULL});
}
TestSuite(slow_frame, .init = setup_frame, .fini = e2e_teardown, .timeout = 60);

Test(slow_frame, a_frame_not_complete_within_the_frame_timeout_closes_the_connection) {
  /* Half a frame then silence; a frame dripped one byte per 300 ms (17 bytes: 5 s). */
  int half = connect_from(2), drip = connect_from(2);
  cr_assert_eq(send(half, g_ping, 8, MSG_NOSIGNAL), 8);
  uint64_t t0 = now_ms(), t_half = 0, t_drip = 0;
  size_t dripped = 0;
  while (now_ms() - t0 < 6000 && (!t_half || !t_drip)) {
    if (!t_half && closed_by_server(half, NULL)) t_half = now_ms() - t0;
    if (!t_drip && closed_by_server(drip, NULL)) t_drip = now_ms() - t0;
    if (!t_drip && dripped < sizeof g_ping && now_ms() - t0 >= dripped * 300u) {
      if (send(drip, g_ping + dripped, 1, MSG_NOSIGNAL) == 1) dripped++;
    }
    usleep(10000);
  }
  fprintf(stderr, "slow_frame: half a frame closed after %llu ms, a dripped frame after %llu ms (%zu of %zu bytes)\n",
          (unsigned long long)t_half, (unsigned long long)t_drip, dripped, sizeof g_ping);
  cr_assert(t_half, "half a frame, then silence: still open after 6 s");
  cr_assert(t_drip, "a frame dripped over 5 s: still open after 6 s");
  cr_assert_lt(dripped, sizeof g_ping, "the dripped frame was never completed");
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cr_assert_eq(stat_conn(a, "frame_timeouts"), 2);
  cx_client_close(a);
  close(half);
  close(drip);
  e2e_assert_alive();
}

Test(slow_frame, a_slow_frame_completed_in_time_is_answered_and_quiet_time_between_frames_is_free) {
  int fd = connect_from(2);
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(send(fd, g_ping, 6, MSG_NOSIGNAL), 6);
    usleep(500000); /* half the frame deadline */
    cr_assert_eq(send(fd, g_ping + 6, sizeof g_ping - 6, MSG_NOSIGNAL), (ssize_t)(sizeof g_ping - 6));
    unsigned char buf[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1);
    ssize_t k = recv(fd, buf, sizeof buf, 0);
    cr_assert_gt(k, 4, "the ping is answered (round %d)", round);
    cr_assert(memmem(buf, (size_t)k, "pong", 4), "round %d", round);
    usleep(1500000); /* longer than the frame deadline, between frames */
  }
  close(fd);
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cr_assert_eq(stat_conn(a, "frame_timeouts"), 0);
  cx_client_close(a);
}

/* ===================================================================== one address */

static void setup_ip(void) {
  e2e_setup_args((const char *[]){"--max-conns-per-ip", "5", NULL});
}
TestSuite(slow_ip, .init = setup_ip, .fini = e2e_teardown, .timeout = 60);

Test(slow_ip, connections_past_the_per_address_limit_get_busy_once_then_close) {
  int fds[5];
  for (int i = 0; i < 5; i++) {
    fds[i] = connect_from(2);
    cr_assert_eq(send(fds[i], g_ping, sizeof g_ping, MSG_NOSIGNAL), (ssize_t)sizeof g_ping);
    struct pollfd p = {.fd = fds[i], .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 5000), 1, "connection %d from 127.0.0.2 is served", i);
    cr_assert(!closed_by_server(fds[i], NULL));
  }
  int x = connect_from(2), busy = 0;
  struct pollfd p = {.fd = x, .events = POLLIN};
  cr_assert_eq(poll(&p, 1, 5000), 1);
  usleep(100000);
  cr_assert(closed_by_server(x, &busy), "the 6th connection from 127.0.0.2 is closed");
  cr_assert_eq(busy, 1, "after one busy error frame");
  close(x);
  /* Another address is served. */
  cr_assert(try_well_behaved());
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cr_assert_eq(stat_conn(a, "rejected_per_ip"), 1);
  cr_assert_eq(stat_conn(a, "max_per_ip"), 5);
  /* Once one closes, 127.0.0.2 may connect again (the server sees the close soon). */
  close(fds[0]);
  int ok = 0;
  for (int i = 0; i < 100 && !ok; i++) {
    int y = connect_from(2);
    send(y, g_ping, sizeof g_ping, MSG_NOSIGNAL);
    struct pollfd q = {.fd = y, .events = POLLIN};
    unsigned char buf[256];
    ok = poll(&q, 1, 2000) == 1 && recv(y, buf, sizeof buf, 0) > 0 && memmem(buf, sizeof buf, "pong", 4);
    close(y);
    if (!ok) usleep(100000);
  }
  cr_assert(ok, "a freed per-address slot is reusable");
  cx_client_close(a);
  for (int i = 1; i < 5; i++) close(fds[i]);
}

/* ===================================================================== 1,000 of them */

#define N_SLOW 1000
#define SLOW_MAX_CONNS "1000"
#define SLOW_PER_IP 900
#define SLOW_NOFILE 4096

static void setup_thousand(void) {
  struct rlimit rl;
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < SLOW_NOFILE) { /* the forked server inherits it (and raises its own) */
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > SLOW_NOFILE ? SLOW_NOFILE : rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  cr_assert_geq(rl.rlim_cur, (rlim_t)(2 * N_SLOW + 256), "RLIMIT_NOFILE too low for this test");
  e2e_setup_args((const char *[]){"--max-conns", SLOW_MAX_CONNS, "--max-conns-per-ip", "900",
                                  "--frame-timeout", "3", NULL});
}
TestSuite(slow_thousand, .init = setup_thousand, .fini = e2e_teardown, .timeout = 120);

Test(slow_thousand, a_well_behaved_client_is_answered_while_a_thousand_slow_senders_are_connected) {
  static int fds[N_SLOW], done[N_SLOW];
  static size_t dripped[N_SLOW];
  int busy = 0;
  /* Half drip one byte a second; half send half a frame, then nothing. All from 127.0.0.2. */
  for (int i = 0; i < N_SLOW; i++) {
    fds[i] = connect_from(2);
    done[i] = 0;
    dripped[i] = i % 2 ? 8 : 1;
    send(fds[i], g_ping, dripped[i], MSG_NOSIGNAL);
  }
  uint64_t t0 = now_ms();
  /* Past the per-address limit the server said busy and closed; the rest are held open. */
  int refused = 0;
  for (int tries = 0; tries < 200; tries++) {
    refused = 0;
    for (int i = 0; i < N_SLOW; i++)
      if (!done[i] && closed_by_server(fds[i], &busy)) done[i] = 1;
    for (int i = 0; i < N_SLOW; i++) refused += done[i];
    if (refused >= N_SLOW - SLOW_PER_IP) break;
    usleep(10000);
  }
  cr_assert_eq(refused, N_SLOW - SLOW_PER_IP, "%d connections refused, expected %d", refused, N_SLOW - SLOW_PER_IP);
  cr_assert_eq(busy, N_SLOW - SLOW_PER_IP, "each refused one got a busy frame (%d)", busy);
  /* A well-behaved client from another address is answered right, while they are all there. */
  cr_assert(now_ms() - t0 < 2500, "the test is slower than the frame deadline it relies on");
  cr_assert(try_well_behaved(), "the well-behaved client was not served");
  uint64_t t_served = now_ms() - t0;
  /* The drippers go on; the frame deadline (3 s) ends every one of them. */
  uint64_t t_last = 0;
  int open = SLOW_PER_IP;
  while (open > 0 && now_ms() - t0 < 20000) {
    for (int i = 0; i < N_SLOW; i++) {
      if (done[i]) continue;
      if (closed_by_server(fds[i], NULL)) {
        done[i] = 1;
        open--;
        continue;
      }
      if (i % 2 == 0 && dripped[i] < sizeof g_ping && now_ms() - t0 >= dripped[i] * 1000u)
        if (send(fds[i], g_ping + dripped[i], 1, MSG_NOSIGNAL) == 1) dripped[i]++;
    }
    if (open == 0) t_last = now_ms() - t0;
    usleep(20000);
  }
  fprintf(stderr, "slow_thousand: %d refused (busy), well-behaved served after %llu ms, the %d held closed by the "
          "frame deadline within %llu ms\n", refused, (unsigned long long)t_served, SLOW_PER_IP,
          (unsigned long long)t_last);
  cr_assert_eq(open, 0, "%d slow senders still open after 20 s (frame timeout 3 s)", open);
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cr_assert_eq(stat_conn(a, "rejected_per_ip"), N_SLOW - SLOW_PER_IP);
  cr_assert_eq(stat_conn(a, "frame_timeouts"), SLOW_PER_IP);
  cr_assert_eq(stat_conn(a, "current"), 1);
  cx_client_close(a);
  cr_assert(try_well_behaved());
  for (int i = 0; i < N_SLOW; i++) close(fds[i]);
}
