/* test_err.c - the error mechanism: messages, tracebacks, and re-raising
 * with context (ROVE_WRAP), which must copy the message before it formats
 * (quoting rove_error_message() into the new message is safe). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/err.h"

static int inner(void) {
  return ROVE_ERR(ROVE_EFORMAT, "record %d is torn", 7);
}

static int middle(void) {
  ROVE_TRY(inner());
  return 0;
}

Test(err, wrap_prepends_context_and_keeps_the_traceback) {
  int rc = middle();
  cr_assert_eq(rc, ROVE_EFORMAT);
  rc = ROVE_WRAP(rc, "journal '%s'", "j.log");
  cr_assert_eq(rc, ROVE_EFORMAT);
  cr_assert_str_eq(rove_error_message(), "journal 'j.log': record 7 is torn");
  /* Quoting the current message in the context reads a copy. */
  rc = ROVE_WRAP(rc, "again (%s)", rove_error_message());
  cr_assert_str_eq(rove_error_message(),
                   "again (journal 'j.log': record 7 is torn): journal "
                   "'j.log': record 7 is torn");
  /* With no message recorded, the code's name stands in. */
  rove_error_clear();
  rc = ROVE_WRAP(ROVE_ENOENT, "model '%s'", "m.rove");
  cr_assert_str_eq(rove_error_message(),
                   "model 'm.rove': no such file or directory");
}

Test(err, long_messages_are_truncated_not_overrun) {
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ROVE_ERR(ROVE_EIO, "%s", big);
  int rc = ROVE_WRAP(ROVE_EIO, "%s", big);
  cr_assert_eq(rc, ROVE_EIO);
  size_t n = strlen(rove_error_message());
  cr_assert(n > 500 && n < 2000, "message length %zu", n);
}
