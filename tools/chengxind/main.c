/*
 * chengxind — the chengxin protocol server.
 *
 *   chengxind --db PATH [--listen HOST:PORT] [--http HOST:PORT] [--tls-cert F --tls-key F]
 *             [--tokens FILE] [--threads N] [--scan-threads N]
 *             [--max-frame BYTES] [--max-conns N] [--idle-timeout S] [--slow-ms MS]
 *             [--max-output BYTES] [--max-output-total BYTES] [--frame-timeout S]
 *             [--max-conns-per-ip N] [--map-size BYTES] [--tz ZONE] [--site FILE]
 *             [--check-retention-days N] [--check-log on|off]
 *             [--log nats://HOST:PORT[,...] --stream NAME [--max-lag N] [--node NAME]
 *              [--log-replicas N] [--log-max-msgs N] [--log-writes on|off]] [--config FILE]
 *
 * --config FILE holds the same options as "key = value" lines (db = /var/lib/chengxin/store);
 * the command line wins over the file. The man page is docs/chengxind.8.
 *
 * Exit status: 0 after a graceful stop (SIGINT/SIGTERM), 1 when the server cannot start
 * (no store, other schema version, port taken, token file unreadable or not private),
 * 2 on a usage error (a bad config line included). See docs/protocol.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "exec.h"
#include "kvconf.h"
#include "server.h"

#ifndef CX_VERSION
#define CX_VERSION "0"
#endif

static char host[64], hhost[64]; /* --listen, --http hosts */
static cx_server *g_srv; /* for the signal handler */
static void on_signal(int sig) {
  if (sig == SIGHUP) cx_server_reload_signal(g_srv);
  else cx_server_stop_signal(g_srv, sig);
}

/* Process-wide settings belong to the program, not the library: writes to a closed socket
 * must not kill us, and every connection is a descriptor (raise the soft limit and keep
 * max_conns below it). */
static void process_setup(cx_server_opts *o) {
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 128 && o->max_conns > rl.rlim_cur - 100) {
    o->max_conns = (unsigned)(rl.rlim_cur - 100);
    cx_server_log("max connections lowered to %u (open file limit %llu)", o->max_conns,
                  (unsigned long long)rl.rlim_cur);
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: chengxind --db PATH [--listen HOST:PORT] [--http HOST:PORT] [--tls-cert F --tls-key F]\n"
          "                 [--tokens FILE] [--threads N] [--scan-threads N]\n"
          "                 [--max-frame BYTES] [--max-conns N] [--idle-timeout S] [--slow-ms MS]\n"
          "                 [--max-output BYTES] [--max-output-total BYTES] [--frame-timeout S]\n"
          "                 [--max-conns-per-ip N] [--map-size BYTES] [--tz ZONE] [--site FILE]\n"
          "                 [--check-retention-days N] [--check-log on|off]\n"
          "                 [--log nats://HOST:PORT[,...] --stream NAME [--max-lag N] [--node NAME]\n"
          "                  [--log-replicas N] [--log-max-msgs N] [--log-writes on|off]] [--config FILE]\n"
          "                 [--version] [--help]\n"
          "  --config FILE       options as \"key = value\" lines, keys the long names below without\n"
          "                      \"--\" (db = /var/lib/chengxin/store); '#' starts a comment line;\n"
          "                      options on the command line win over the file\n"
          "  --db PATH           store directory (created by `chengxin init`)\n"
          "  --tz ZONE           whose day is today: Asia/Shanghai (default), UTC, +HH:MM, a zone name\n"
          "  --listen HOST:PORT  default 127.0.0.1:7411; port 0 picks a free port; [::1]:7411 for IPv6\n"
          "  --http HOST:PORT    also serve HTTP/JSON there (routes under /v1, /v1/openapi.json,\n"
          "                      /healthz, /readyz, /metrics; docs/protocol.md section 11) and the\n"
          "                      public credit website on every other path (docs/site.md)\n"
          "  --site FILE         the website's texts and contacts: key = value lines (site_name,\n"
          "                      operator, phone, email, address, hours, repair_text,\n"
          "                      objection_text; docs/operations.md \"The public site\")\n"
          "  --request-log FILE  append one logfmt line per answered request (door, op, role, token\n"
          "                      name, peer, microseconds, outcome; never a token or an entity code)\n"
          "  --request-log-rate R  log that share of the requests, 0 < R <= 1 (default 1)\n"
          "  --tls-cert FILE --tls-key FILE\n"
          "                      PEM certificate chain and key: the HTTP port speaks HTTPS (HTTP/1.1\n"
          "                      and HTTP/2); the msgpack port stays plain TCP (terminate TLS in front)\n"
          "  --tokens FILE       lines \"token role [authorities=CODE[,CODE...]] [name]\"; roles public\n"
          "                      approval analyst submitter admin; submitter tokens need authorities=\n"
          "                      (the authorities whose records they write); the file must not be\n"
          "                      accessible by group or others (chmod 600)\n"
          "  --threads N         worker event loops (default: number of CPUs)\n"
          "  --scan-threads N    threads one aggregate scan may use, shared by the scans running at\n"
          "                      once (default 0: number of CPUs; 1: never split a scan)\n"
          "  --max-frame BYTES   largest request frame (default 1048576)\n"
          "  --max-conns N       open connections (default 10000); excess get a busy error\n"
          "  --max-conns-per-ip N  open connections from one client address (default 0 = no limit;\n"
          "                      behind a proxy every client has the proxy's address); excess get busy\n"
          "  --idle-timeout S    close connections without a complete request for S seconds\n"
          "                      (default 300, 0 = never); single bytes do not count\n"
          "  --frame-timeout S   close a connection whose frame is not complete S seconds after its\n"
          "                      first byte (default 30, 0 = never)\n"
          "  --slow-ms MS        log requests slower than MS milliseconds (default 200)\n"
          "  --max-output BYTES  answers queued for one client before its requests wait (default 4 MiB)\n"
          "  --max-output-total BYTES\n"
          "                      answers queued for all clients past which each may queue only\n"
          "                      64 KiB (default 64 MiB): bounds what clients that never read pin\n"
          "  --map-size BYTES    the store's map (address space, not disk; default the larger of\n"
          "                      64 GiB and 8 x the data file): growth by another process within it\n"
          "                      never remaps the server\n"
          "  --check-retention-days N\n"
          "                      delete check-log entries (receipts) older than N days, hourly\n"
          "                      (1..36500, default 730); the check rollup keeps its counts\n"
          "  --check-log on|off  off: checks are not logged and carry no receipt, so feedback\n"
          "                      is impossible for them (benchmarks; default on)\n"
          "  --log URLS          replicate: every write goes through this NATS JetStream cluster and\n"
          "                      every node applies the log to its own store (docs/scaling.md);\n"
          "                      without it the server is a single node\n"
          "  --stream NAME       the stream of write batches (created with --log-replicas replicas,\n"
          "                      default 3, when absent)\n"
          "  --log-max-msgs N    a stream this node creates keeps its last N messages (default all);\n"
          "                      a node further behind needs a newer backup\n"
          "  --max-lag N         /readyz is false while this node is more than N messages behind\n"
          "  --node NAME         this node's name in message ids and stats (default the host name)\n"
          "  --log-writes on|off off: a read-only replica: it applies the log and serves reads, and\n"
          "                      answers every write forbidden, naming itself (default on)\n"
          "  --version           version, protocol version and store schema version\n");
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out) {
  char *e;
  errno = 0;
  if (!s || !*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &e, 10);
  if (errno || *e || v > max) return -1;
  *out = v;
  return 0;
}

/* Applies one option (a flag, or a config line as "--key"); 0, or -1 with the reason in why. */
static int apply(cx_server_opts *o, const char *a, const char *v, char *why, size_t cap) {
  unsigned long long n;
  if (!strcmp(a, "--db")) {
    o->db_path = v;
  } else if (!strcmp(a, "--tz")) {
    int32_t off;
    if (cx_day_set_tz(v, &off)) {
      snprintf(why, cap, "--tz %s: expected Asia/Shanghai, UTC, +HH:MM or a zone name", v);
      return -1;
    }
    fprintf(stderr, "chengxind: today is the day at UTC%+03d:%02d (--tz %s)\n", off / 3600,
            (off < 0 ? -off : off) % 3600 / 60, v);
  } else if (!strcmp(a, "--tokens")) {
    o->tokens_path = v;
  } else if (!strcmp(a, "--listen") || !strcmp(a, "--http")) {
    int http = a[2] == 'h';
    char *dst = http ? hhost : host;
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || parse_num(colon + 1, 65535, &n)) {
      snprintf(why, cap, "%s wants HOST:PORT, got \"%s\"", a, v);
      return -1;
    }
    size_t hl = (size_t)(colon - v);
    const char *h = v;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
      h++;
      hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host) {
      snprintf(why, cap, "bad host in %s \"%s\"", a, v);
      return -1;
    }
    memcpy(dst, h, hl);
    dst[hl] = 0;
    if (http) {
      o->http = 1;
      o->http_host = hhost;
      o->http_port = (int)n;
    } else {
      o->host = host;
      o->port = (int)n;
    }
  } else if (!strcmp(a, "--tls-cert")) {
    o->tls_cert = v;
  } else if (!strcmp(a, "--tls-key")) {
    o->tls_key = v;
  } else if (!strcmp(a, "--site")) {
    o->site_path = v;
  } else if (!strcmp(a, "--request-log")) {
    o->request_log = v;
  } else if (!strcmp(a, "--request-log-rate")) {
    char *e;
    double r = strtod(v, &e);
    if (*e || !(r > 0 && r <= 1)) {
      snprintf(why, cap, "--request-log-rate wants a share in (0, 1], e.g. 0.01");
      return -1;
    }
    o->request_log_rate = r;
  } else if (!strcmp(a, "--threads")) {
    if (parse_num(v, 64, &n) || n == 0) {
      snprintf(why, cap, "--threads wants 1..64");
      return -1;
    }
    o->threads = (unsigned)n;
  } else if (!strcmp(a, "--scan-threads")) {
    if (parse_num(v, 16, &n)) {
      snprintf(why, cap, "--scan-threads wants 0..16 (0: number of CPUs)");
      return -1;
    }
    o->scan_threads = (unsigned)n;
  } else if (!strcmp(a, "--max-frame")) {
    if (parse_num(v, 1u << 30, &n) || n < 64) {
      snprintf(why, cap, "--max-frame wants 64..1073741824 bytes");
      return -1;
    }
    o->max_frame = (size_t)n;
  } else if (!strcmp(a, "--max-conns")) {
    if (parse_num(v, 1000000, &n) || n == 0) {
      snprintf(why, cap, "--max-conns wants 1..1000000");
      return -1;
    }
    o->max_conns = (unsigned)n;
  } else if (!strcmp(a, "--idle-timeout")) {
    if (parse_num(v, 86400 * 7, &n)) {
      snprintf(why, cap, "--idle-timeout wants seconds (0 = never)");
      return -1;
    }
    o->idle_timeout_s = (unsigned)n;
  } else if (!strcmp(a, "--max-conns-per-ip")) {
    if (parse_num(v, 1000000, &n)) {
      snprintf(why, cap, "--max-conns-per-ip wants 0..1000000 (0 = no limit)");
      return -1;
    }
    o->max_conns_per_ip = (unsigned)n;
  } else if (!strcmp(a, "--frame-timeout")) {
    if (parse_num(v, 86400, &n)) {
      snprintf(why, cap, "--frame-timeout wants seconds (0 = never)");
      return -1;
    }
    o->frame_timeout_s = (unsigned)n;
  } else if (!strcmp(a, "--map-size")) {
    if (parse_num(v, 1ull << 46, &n) || n < (1u << 20)) {
      snprintf(why, cap, "--map-size wants 1048576..70368744177664 bytes");
      return -1;
    }
    o->map_size = (uint64_t)n;
  } else if (!strcmp(a, "--max-output")) {
    if (parse_num(v, 1ull << 32, &n) || n < 65536) {
      snprintf(why, cap, "--max-output wants 65536..4294967296 bytes");
      return -1;
    }
    o->max_output = (size_t)n;
  } else if (!strcmp(a, "--max-output-total")) {
    if (parse_num(v, 1ull << 40, &n) || n < 65536) {
      snprintf(why, cap, "--max-output-total wants at least 65536 bytes");
      return -1;
    }
    o->max_output_total = (size_t)n;
  } else if (!strcmp(a, "--check-retention-days")) {
    if (parse_num(v, 36500, &n) || n == 0) {
      snprintf(why, cap, "--check-retention-days wants 1..36500 days");
      return -1;
    }
    o->check_retention_days = (unsigned)n;
  } else if (!strcmp(a, "--check-log")) {
    if (strcmp(v, "on") && strcmp(v, "off")) {
      snprintf(why, cap, "--check-log wants on or off");
      return -1;
    }
    o->no_check_log = !strcmp(v, "off");
  } else if (!strcmp(a, "--log")) {
    if (strncmp(v, "nats://", 7) != 0) {
      snprintf(why, cap, "--log wants nats://HOST:PORT[,nats://HOST:PORT...]");
      return -1;
    }
    o->log_urls = v;
  } else if (!strcmp(a, "--stream")) {
    o->log_stream = v;
  } else if (!strcmp(a, "--node")) {
    o->log_node = v;
  } else if (!strcmp(a, "--log-writes")) {
    if (strcmp(v, "on") && strcmp(v, "off")) {
      snprintf(why, cap, "--log-writes wants on or off");
      return -1;
    }
    o->log_writes_off = !strcmp(v, "off");
  } else if (!strcmp(a, "--max-lag")) {
    if (parse_num(v, 1ull << 62, &n)) {
      snprintf(why, cap, "--max-lag wants a number of messages (0 = no limit)");
      return -1;
    }
    o->log_max_lag = (uint64_t)n;
  } else if (!strcmp(a, "--log-max-msgs")) {
    if (parse_num(v, 1ull << 62, &n)) {
      snprintf(why, cap, "--log-max-msgs wants a number of messages (0 = keep all)");
      return -1;
    }
    o->log_max_msgs = (int64_t)n;
  } else if (!strcmp(a, "--log-replicas")) {
    if (parse_num(v, 5, &n) || n == 0) {
      snprintf(why, cap, "--log-replicas wants 1..5");
      return -1;
    }
    o->log_replicas = (unsigned)n;
  } else if (!strcmp(a, "--slow-ms")) {
    if (parse_num(v, 3600000, &n)) {
      snprintf(why, cap, "--slow-ms wants milliseconds");
      return -1;
    }
    o->slow_ms = (unsigned)n;
  } else {
    snprintf(why, cap, "unknown option %s", a);
    return -1;
  }
  return 0;
}

/* --config FILE: "key = value" lines with the long options' names (kvconf.h). The text is
 * kept for the process's life: the options point into it. */
static int config_entry(const char *k, const char *v, void *ctx, char *why, size_t cap) {
  char flag[64];
  if (!strcmp(k, "config") || snprintf(flag, sizeof flag, "--%s", k) >= (int)sizeof flag) {
    snprintf(why, cap, "unknown key \"%s\"", k);
    return -1;
  }
  if (apply(ctx, flag, v, why, cap)) {
    if (!strncmp(why, "unknown option", 14)) snprintf(why, cap, "unknown key \"%s\"", k);
    return -1;
  }
  return 0;
}

static int load_config(cx_server_opts *o, const char *path) {
  static char *text;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "chengxind: --config %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      char *t = realloc(text, cap = cap ? 2 * cap : 8192);
      if (!t) {
        fclose(f);
        fprintf(stderr, "chengxind: --config %s: out of memory\n", path);
        return -1;
      }
      text = t;
    }
    size_t k = fread(text + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "chengxind: --config %s: read error\n", path);
    return -1;
  }
  text[n] = 0;
  int line = 0;
  char why[512];
  if (cx_kv_parse(text, config_entry, o, &line, why, sizeof why)) {
    fprintf(stderr, "chengxind: %s:%d: %s\n", path, line, why);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  /* A frozen "today" (tests, demo stores): said on stderr, never silent in production. */
  const char *today = getenv("CHENGXIN_TODAY");
  int tr = cx_day_set_today_env(today);
  if (tr < 0) {
    fprintf(stderr, "chengxind: CHENGXIN_TODAY=%s is not a YYYY-MM-DD date\n", today);
    return 2;
  }
  if (tr > 0) fprintf(stderr, "chengxind: CHENGXIN_TODAY is set: today is %s, not the clock's day\n", today);
  cx_server_opts o;
  cx_server_opts_default(&o);
  const char *conf = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--version")) {
      char libs[512];
      cx_server_lib_versions(libs, sizeof libs);
      printf("chengxind %s (protocol %s, store schema %u)\nlibraries: %s\ncommit: %s\n", CX_VERSION,
             CX_PROTOCOL_VERSION, (unsigned)CX_SCHEMA_VERSION, libs, cx_build_commit());
      return 0;
    }
    if (!strcmp(a, "--config") && i + 1 < argc) conf = argv[++i];
  }
  /* The file first, then the command line over it: flags win. */
  if (conf && load_config(&o, conf)) return 2;
  char why[512];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "chengxind: %s needs a value (or is unknown)\n", a);
      usage(stderr);
      return 2;
    }
    i++;
    if (!strcmp(a, "--config")) continue;
    if (apply(&o, a, v, why, sizeof why)) {
      fprintf(stderr, "chengxind: %s\n", why);
      if (!strncmp(why, "unknown option", 14)) usage(stderr);
      return 2;
    }
  }
  if (!o.db_path) {
    fprintf(stderr, "chengxind: --db PATH is required (or db = PATH in --config)\n");
    usage(stderr);
    return 2;
  }
  if ((o.log_urls != NULL) != (o.log_stream != NULL)) {
    fprintf(stderr, "chengxind: --log and --stream go together\n");
    return 2;
  }
  /* Test hook (tests/e2e/python/test_cluster.py): every publish is retried once with the same
   * Nats-Msg-Id, as after a lost ack; JetStream must answer the retry as a duplicate. */
  if (getenv("CHENGXIN_TEST_LOG_REPUBLISH") && o.log_urls) {
    o.log_test_republish = 1;
    fprintf(stderr, "chengxind: CHENGXIN_TEST_LOG_REPUBLISH is set: every publish is sent twice\n");
  }
  process_setup(&o);
  cx_server *s = NULL;
  int rc = cx_server_open(&o, &s, why, sizeof why);
  if (rc) {
    cx_server_log("cannot start: %s", why[0] ? why : cx_strerror(rc));
    return rc == CX_EBADREQ ? 2 : 1;
  }
  cx_server_log("starting: store %s, max frame %zu B, max connections %u (%u per address, 0 = any), "
             "idle timeout %u s, frame timeout %u s", o.db_path, o.max_frame, o.max_conns,
             o.max_conns_per_ip, o.idle_timeout_s, o.frame_timeout_s);
  if (o.no_check_log) cx_server_log("the check log is off (--check-log off): checks carry no receipt");
  g_srv = s;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL); /* reload: tokens and data files (docs/operations.md) */
  rc = cx_server_run(s);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_IGN); /* a reload after the loops stopped: nothing to do */
  g_srv = NULL;
  cx_server_close(s);
  if (rc) {
    cx_server_log("exiting after error: %s", cx_strerror(rc));
    return 1;
  }
  return 0;
}
