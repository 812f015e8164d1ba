#include "cx_err.h"

const char *cx_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define CX__ERR_MSG(e, v, n, m) case e: return m;
  CX_ERR_TABLE(CX__ERR_MSG)
#undef CX__ERR_MSG
  default: return "unknown error";
  }
}

const char *cx_err_name(int err) {
  switch (err) {
  case 0: return "ok";
#define CX__ERR_NAME(e, v, n, m) case e: return n;
  CX_ERR_TABLE(CX__ERR_NAME)
#undef CX__ERR_NAME
  default: return "internal";
  }
}
