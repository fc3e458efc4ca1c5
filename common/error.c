/* error.c - the one table of seedmesh error codes and their descriptions. */
#include "common/common.h"

#include <errno.h>
#include <string.h>

static const char *const error_texts[] = {
#define SM_ERROR_TEXT_(name, text) text,
  SM_ERRNO_MAP(SM_ERROR_TEXT_)
#undef SM_ERROR_TEXT_
};

const char *sm_strerror(int code) {
  if (code == 0) {
    return "success";
  }
  if (code > SM_E_BASE_ && code < SM_E_END_) {
    return error_texts[code - SM_E_BASE_ - 1];
  }
  if (code < 0 && code > -4096) {
    return strerror(-code);
  }
  return "unknown error";
}

int sm_errno(void) {
  return errno != 0 ? -errno : SM_EINVAL;
}
