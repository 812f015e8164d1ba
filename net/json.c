/*
 * json.c — the doors' JSON side (exec.h "door helpers"): a JSON value as the msgpack the
 * executor reads. The HTTP door packs request bodies with it, the CLI its requests in both
 * modes, so a JSON request means the same through every door.
 */
#include <jansson.h>
#include <string.h>

#include "exec.h"

void cx_exec_pack_json(msgpack_packer *pk, const struct json_t *cj) {
  json_t *j = (json_t *)cj; /* jansson's accessors take non-const pointers; nothing is changed */
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(j));
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      msgpack_pack_str_with_body(pk, k, strlen(k));
      cx_exec_pack_json(pk, v);
    }
    break;
  }
  case JSON_ARRAY: {
    msgpack_pack_array(pk, json_array_size(j));
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) cx_exec_pack_json(pk, v);
    break;
  }
  case JSON_STRING: msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j)); break;
  case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); break;
  case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
  case JSON_TRUE: msgpack_pack_true(pk); break;
  case JSON_FALSE: msgpack_pack_false(pk); break;
  default: msgpack_pack_nil(pk); break;
  }
}
