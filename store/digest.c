/* digest.c — the content digest of a store (cx_store_digest) and the walks it and
 * `chengxin export` share: authorities in code order, an authority's records in record_id order.
 *
 * The digest is a SHA-256 (OpenSSL libcrypto) over a canonical serialisation of the logical
 * content, section by section, each in the order of its logical key:
 *   'D' data files      name order (the data DB's key order): name, text
 *   'R' records         (authority code, record_id) order: every stored field but the
 *                       store-assigned ids (seq, entity id, authority id)
 *   'E' entities        code order: code, last_update (the one summary field that no record
 *                       gives; the rest of a summary is derived)
 *   'A' authorities     code order: code, name (the name the authorities DB keeps)
 *   'L' audit entries   seq order: time, who, role, op, target, detail, client (the seq itself
 *                       is the position: a restored log is renumbered from 1)
 * The replicated digest (cx_store_digest_replicated) is the same walk without the audit lines a
 * node writes for itself (query audits, check-log pruning: cx_audit_is_node_local), after a tag
 * that keeps it apart from any content digest: nodes of one replicated log at the same
 * sequence have the same replicated digest whatever queries each answered.
 * Strings are u32 (little-endian) length + bytes, integers fixed-size little-endian, every
 * item starts with its tag: no two different contents serialise alike. Derived DBs (summary
 * bodies, summary_x, names, grams, rollups, facts, entities, record refs, regions) and page
 * layout are not in it: cx_store_verify checks those against the records. The ids are left
 * out on purpose: a restore assigns its own, and so does any import of the same content.
 */
#include <openssl/evp.h>
#include <stdlib.h>

#include "store_int.h"

struct cx_digest {
  EVP_MD_CTX *md;
  int failed;
};

int cx_digest_new(cx_digest **out) {
  cx_digest *d = cx_calloc(1, sizeof *d);
  if (!d) return CX_ENOMEM;
  d->md = EVP_MD_CTX_new();
  if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
    if (d->md) EVP_MD_CTX_free(d->md);
    cx_free(d);
    return CX_ENOMEM;
  }
  static const char magic[] = "chengxin content digest 1";
  EVP_DigestUpdate(d->md, magic, sizeof magic);
  *out = d;
  return 0;
}

void cx_digest_free(cx_digest *d) {
  if (!d) return;
  EVP_MD_CTX_free(d->md);
  cx_free(d);
}

static void put(cx_digest *d, const void *p, size_t n) {
  if (n && EVP_DigestUpdate(d->md, p, n) != 1) d->failed = 1;
}
static void put_u8(cx_digest *d, unsigned v) {
  unsigned char b = (unsigned char)v;
  put(d, &b, 1);
}
static void put_u32(cx_digest *d, uint32_t v) {
  unsigned char b[4];
  cx__wr32(b, v);
  put(d, b, 4);
}
static void put_i64(cx_digest *d, int64_t v) {
  unsigned char b[8];
  cx__wr64(b, v);
  put(d, b, 8);
}
static void put_str(cx_digest *d, cx_str s) {
  put_u32(d, s.n);
  put(d, s.p, s.n);
}

void cx_digest_data(cx_digest *d, cx_str name, cx_str text) {
  put_u8(d, 'D');
  put_str(d, name);
  put_str(d, text);
}

void cx_digest_record(cx_digest *d, const cx_record *r) {
  put_u8(d, 'R');
  const uint8_t b[] = {r->entity_kind, r->category, r->subtype, r->domain, r->severity, r->status,
                       r->objection, r->on_time, r->report_received, r->delay_provisional};
  put(d, b, sizeof b);
  const uint32_t u[] = {r->region, r->decision_date, r->report_date, r->valid_from,
                        r->valid_until, r->display_until, (uint32_t)r->report_delay};
  for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) put_u32(d, u[i]);
  put_i64(d, r->amount_fen);
  const cx_str s[] = {r->record_id, r->authority_code, r->authority_name, r->entity_code,
                      r->entity_name, r->list_type, r->measures, r->basis, r->content, r->extra};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) put_str(d, s[i]);
}

void cx_digest_entity(cx_digest *d, cx_str code, cx_day last_update) {
  put_u8(d, 'E');
  put_str(d, code);
  put_u32(d, last_update);
}

void cx_digest_authority(cx_digest *d, cx_str code, cx_str name) {
  put_u8(d, 'A');
  put_str(d, code);
  put_str(d, name);
}

void cx_digest_audit(cx_digest *d, const cx_audit_entry *e) {
  put_u8(d, 'L');
  put_i64(d, e->time_ms);
  const cx_str s[] = {e->who, e->role, e->op, e->target, e->detail, e->client};
  for (size_t i = 0; i < 6; i++) put_str(d, s[i].p ? s[i] : (cx_str){"", 0});
}

int cx_digest_final(cx_digest *d, unsigned char out[CX_DIGEST_LEN]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int err = d->failed || EVP_DigestFinal_ex(d->md, md, &n) != 1 || n != CX_DIGEST_LEN ? CX_EINTERNAL : 0;
  if (!err) memcpy(out, md, CX_DIGEST_LEN);
  cx_digest_free(d);
  return err;
}

void cx_digest_hex(const unsigned char dg[CX_DIGEST_LEN], char out[2 * CX_DIGEST_LEN + 1]) {
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < CX_DIGEST_LEN; i++) {
    out[2 * i] = hx[dg[i] >> 4];
    out[2 * i + 1] = hx[dg[i] & 15];
  }
  out[2 * CX_DIGEST_LEN] = 0;
}

/* ------------------------------------------------------------------ walks */

int cx_store_data_each(cx_txn *t, cx_data_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_DATA, &cur, &own))) return rc;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    int x = fn(ctx, (cx_str){k.mv_data, (uint32_t)k.mv_size}, (cx_str){v.mv_data, (uint32_t)v.mv_size});
    if (x) {
      err = x < 0 ? x : 0;
      break;
    }
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "data scan");
  cx__txn_cursor_done(t, CX_DBI_DATA, cur, own);
  return err;
}

int cx_store_authorities_each(cx_txn *t, cx_authority_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_AUTHORITIES, &cur, &own))) return rc;
  MDB_val k = {1, "c"}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 1 || ((const char *)k.mv_data)[0] != 'c') break;
    if (v.mv_size != 4) {
      err = CX_ECORRUPT;
      cx__store_setmsg(t->st, "authority id of bad size");
      break;
    }
    uint32_t id = cx__rd32(v.mv_data);
    cx_str code = {(const char *)k.mv_data + 1, (uint32_t)(k.mv_size - 1)}, name = {"", 0};
    int g = cx_store_authority_get(t, id, NULL, &name);
    if (g && g != CX_ENOTFOUND) {
      err = g;
      break;
    }
    int x = fn(ctx, id, code, name);
    if (x) {
      err = x < 0 ? x : 0;
      break;
    }
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "authorities scan");
  cx__txn_cursor_done(t, CX_DBI_AUTHORITIES, cur, own);
  return err;
}

int cx_store_authority_records_each(cx_txn *t, uint32_t authority_id, cx_record_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_RECORD_REF, &cur, &own))) return rc;
  unsigned char ab[4];
  cx__be32(ab, authority_id);
  MDB_val k = {4, ab}, v;
  cx_recdec local, *d = cx__txn_dec(t, &local);
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 4 || memcmp(k.mv_data, ab, 4) != 0) break;
    if (v.mv_size != CX_RECKEY_LEN) {
      err = CX_ECORRUPT;
      cx__store_setmsg(t->st, "record ref of bad size");
      break;
    }
    MDB_val rk = v, rv;
    int g = mdb_get(t->txn, t->st->dbi[CX_DBI_RECORDS], &rk, &rv);
    if (g) {
      err = g == MDB_NOTFOUND ? CX_ECORRUPT : cx__store_mdb_err(t->st, g, "record get");
      if (g == MDB_NOTFOUND) cx__store_setmsg(t->st, "dangling record ref");
      break;
    }
    cx_reckey key;
    cx_record r;
    cx_reckey_decode(rk.mv_data, &key);
    if ((err = cx__rec_decode(d, rv.mv_data, rv.mv_size, &r))) {
      cx__store_setmsg(t->st, "corrupt record");
      break;
    }
    int x = fn(ctx, &key, &r);
    if (x) {
      err = x < 0 ? x : 0;
      break;
    }
  }
  cx__txn_dec_done(t, d);
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "refs scan");
  cx__txn_cursor_done(t, CX_DBI_RECORD_REF, cur, own);
  return err;
}

/* ------------------------------------------------------------------ cx_store_digest */

typedef struct dctx {
  cx_txn *t;
  cx_digest *d;
  int replicated; /* cx_store_digest_replicated: node-local audit lines left out */
} dctx;

int cx__digest_txn(cx_txn *t, int replicated, unsigned char out[CX_DIGEST_LEN]);

static int d_data(void *ctx, cx_str name, cx_str text) {
  cx_digest_data(((dctx *)ctx)->d, name, text);
  return 0;
}
static int d_record(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k;
  cx_digest_record(((dctx *)ctx)->d, r);
  return 0;
}
static int d_auth_records(void *ctx, uint32_t id, cx_str code, cx_str name) {
  (void)code, (void)name;
  return cx_store_authority_records_each(((dctx *)ctx)->t, id, d_record, ctx);
}
static int d_auth(void *ctx, uint32_t id, cx_str code, cx_str name) {
  (void)id;
  cx_digest_authority(((dctx *)ctx)->d, code, name);
  return 0;
}
static int d_entity(void *ctx, cx_str code, cx_str norm) {
  (void)norm;
  dctx *c = ctx;
  cx_summary s;
  int rc = code.n == CX_CODE_LEN ? cx_store_summary_get(c->t, code.p, &s) : CX_ECORRUPT;
  if (rc) return rc;
  cx_digest_entity(c->d, code, s.last_update);
  return 0;
}
/* Audit lines a node writes for itself: query audits (the server's, of reads of persons by
 * non-public roles) and the check log's pruning. They are not in the replicated log, so the
 * replicated digest leaves them out (a node that answered such a query is still the same). */
int cx_audit_is_node_local(cx_str op) {
  static const char *const local[] = {"entity", "records", "check", "search", "prune-checks"};
  for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
    if (cx_str_eq(op, cx_str_c(local[i]))) return 1;
  return 0;
}

static int d_audit(void *ctx, const cx_audit_entry *e) {
  dctx *c = ctx;
  if (c->replicated && cx_audit_is_node_local(e->op)) return 0;
  cx_digest_audit(c->d, e);
  return 0;
}

int cx_store_digest_txn(cx_txn *t, unsigned char out[CX_DIGEST_LEN]) { return cx__digest_txn(t, 0, out); }

int cx_store_digest_replicated(cx_store *st, unsigned char out[CX_DIGEST_LEN]) {
  cx_txn *t;
  int err = cx_store_txn_begin(st, &t);
  if (err) return err;
  err = cx__digest_txn(t, 1, out);
  cx_store_txn_end(t);
  return err;
}

int cx__digest_txn(cx_txn *t, int replicated, unsigned char out[CX_DIGEST_LEN]) {
  dctx c = {t, NULL, replicated};
  int err = cx_digest_new(&c.d);
  if (err) return err;
  if (replicated) { /* never equal to a content digest of the same store */
    static const char tag[] = "replicated content";
    cx_digest_data(c.d, CX_STR("digest"), (cx_str){tag, sizeof tag - 1});
  }
  if ((err = cx_store_data_each(t, d_data, &c)) ||
      (err = cx_store_authorities_each(t, d_auth_records, &c)) ||
      (err = cx_store_codes_each(t, (cx_str){"", 0}, d_entity, &c)) ||
      (err = cx_store_authorities_each(t, d_auth, &c)) ||
      (err = cx_store_audit_each(t, 0, 0, 0, d_audit, &c))) {
    cx_digest_free(c.d);
    return err;
  }
  return cx_digest_final(c.d, out);
}

int cx_store_digest(cx_store *st, unsigned char out[CX_DIGEST_LEN]) {
  cx_txn *t;
  int err = cx_store_txn_begin(st, &t);
  if (err) return err;
  err = cx_store_digest_txn(t, out);
  cx_store_txn_end(t);
  return err;
}
