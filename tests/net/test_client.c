/* The blocking client against a scripted fake server (a thread that writes canned bytes). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "net_int.h"

typedef struct fake {
  int lfd, port;
  const unsigned char *reply;
  size_t n;
  pthread_t th;
  unsigned char got[4096]; /* what the client sent */
  size_t ngot;
} fake;

static void *fake_main(void *arg) {
  fake *f = arg;
  int fd = accept(f->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  /* wait for one request frame, then answer with the script and close */
  size_t need = 4;
  while (f->ngot < need) {
    ssize_t k = recv(fd, f->got + f->ngot, sizeof f->got - f->ngot, 0);
    if (k <= 0) break;
    f->ngot += (size_t)k;
    if (f->ngot >= 4) need = 4 + ((size_t)f->got[0] << 24 | (size_t)f->got[1] << 16 | (size_t)f->got[2] << 8 | f->got[3]);
  }
  if (f->n) send(fd, f->reply, f->n, MSG_NOSIGNAL);
  close(fd);
  return NULL;
}

static void fake_start(fake *f, const void *reply, size_t n) {
  memset(f, 0, sizeof *f);
  f->reply = reply;
  f->n = n;
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(0x7f000001);
  cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t sl = sizeof a;
  getsockname(f->lfd, (struct sockaddr *)&a, &sl);
  f->port = ntohs(a.sin_port);
  listen(f->lfd, 4);
  pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f) {
  pthread_join(f->th, NULL);
  close(f->lfd);
}

/* {"id": 1, "ok": true, "result": {"pong": true}} twice, pipelined in one write */
static const unsigned char two_ok[] = {
    0, 0, 0, 0x17, 0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'k', 0xc3, 0xa6, 'r', 'e', 's', 'u', 'l', 't',
    0x81, 0xa4, 'p', 'o', 'n', 'g', 0xc3,
    0, 0, 0, 0x17, 0x83, 0xa2, 'i', 'd', 0x02, 0xa2, 'o', 'k', 0xc3, 0xa6, 'r', 'e', 's', 'u', 'l', 't',
    0x81, 0xa4, 'p', 'o', 'n', 'g', 0xc3};

Test(client, sends_a_well_formed_request_and_reads_pipelined_responses) {
  fake f;
  fake_start(&f, two_ok, sizeof two_ok);
  cx_client *c;
  cr_assert_eq(cx_client_connect("127.0.0.1", f.port, 5000, &c), 0);
  uint64_t id1, id2;
  cr_assert_eq(cx_client_send(c, "ping", 0, NULL, NULL, &id1), 0);
  cr_assert_eq(cx_client_send(c, "ping", 0, NULL, NULL, &id2), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(c, &r), 0);
  cr_assert(r.ok);
  cr_assert_eq(r.id, id1);
  cr_assert(cx_mpo_get(r.result, "pong"));
  cr_assert_eq(cx_client_recv(c, &r), 0);
  cr_assert_eq(r.id, id2);
  cr_assert_eq(cx_client_recv(c, &r), CX_ECONN, "then the fake closes");
  cx_client_close(c);
  fake_stop(&f);
  /* the request the fake received: a frame holding {"id": 1, "op": "ping"} */
  cr_assert(f.ngot >= 4);
  size_t len = (size_t)f.got[3];
  cr_assert_eq(cx_mp_validate(f.got + 4, len), 0);
  cx_req rq;
  char msg[256];
  cr_assert_eq(cx_exec_decode(&rq, f.got + 4, len, msg, sizeof msg), 0);
  cr_assert_eq(rq.op, CX_OP_PING);
  cr_assert_eq(rq.id, 1);
}

Test(client, a_hostile_array_count_is_bad_frame_not_an_allocation) {
  static const unsigned char evil[] = {0, 0, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff};
  fake f;
  fake_start(&f, evil, sizeof evil);
  cx_client *c;
  cr_assert_eq(cx_client_connect("127.0.0.1", f.port, 5000, &c), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ping", 0, NULL, NULL, &r), CX_EBADFRAME);
  cx_client_close(c);
  fake_stop(&f);
}

Test(client, a_frame_over_the_limit_is_too_large) {
  static const unsigned char big[] = {0x7f, 0, 0, 0, 0x80};
  fake f;
  fake_start(&f, big, sizeof big);
  cx_client *c;
  cr_assert_eq(cx_client_connect("127.0.0.1", f.port, 5000, &c), 0);
  cx_client_set_max_frame(c, 1 << 20);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ping", 0, NULL, NULL, &r), CX_ETOOLARGE);
  cx_client_close(c);
  fake_stop(&f);
}

Test(client, mismatched_id_and_error_responses) {
  /* id 9 for request 1; then an error response */
  static const unsigned char wrong[] = {0, 0, 0, 0x0d, 0x83, 0xa2, 'i', 'd', 0x09, 0xa2, 'o', 'k', 0xc3,
                                        0xa6, 'r', 'e', 's', 'u', 'l', 't', 0xc0};
  fake f;
  fake_start(&f, wrong, 4 + 0x0d);
  cx_client *c;
  cr_assert_eq(cx_client_connect("127.0.0.1", f.port, 5000, &c), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ping", 0, NULL, NULL, &r), CX_EBADFRAME);
  cx_client_close(c);
  fake_stop(&f);
}

Test(client, error_response_maps_to_its_code) {
  static const unsigned char err[] = {0, 0, 0, 0x29, 0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'k', 0xc2,
                                      0xa5, 'e', 'r', 'r', 'o', 'r', 0x82, 0xa4, 'c', 'o', 'd', 'e',
                                      0xa9, 'f', 'o', 'r', 'b', 'i', 'd', 'd', 'e', 'n',
                                      0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xa1, 'x'};
  fake f;
  fake_start(&f, err, sizeof err);
  cx_client *c;
  cr_assert_eq(cx_client_connect("127.0.0.1", f.port, 5000, &c), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "stats", 0, NULL, NULL, &r), 0);
  cr_assert(!r.ok);
  cr_assert_eq(cx_client_resp_err(&r), CX_EFORBIDDEN);
  cr_assert_eq(r.err_message_len, 1);
  cx_client_close(c);
  fake_stop(&f);
}

Test(client, connect_to_a_closed_port_fails_cleanly) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(0x7f000001);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t sl = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &sl);
  close(fd); /* nobody listens there now */
  cx_client *c = NULL;
  cr_assert_eq(cx_client_connect("127.0.0.1", ntohs(a.sin_port), 1000, &c), CX_ECONN);
  cr_assert_null(c);
}
