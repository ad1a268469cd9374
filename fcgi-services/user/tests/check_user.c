/* check_user.c: unit tests of the user service's rules for what clients type: phone numbers
 * (Chilean or E.164), postal codes and literal search patterns. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "user.h"


static void
phone_is(const char *in, const char *want)
{
    char  out[USER_PHONE_LEN + 1];

    ck_assert_msg(user_phone_normalize(in, out) == 0, "\"%s\" refused", in);
    ck_assert_str_eq(out, want);
}


static void
phone_refused(const char *in)
{
    char  out[USER_PHONE_LEN + 1];

    ck_assert_msg(user_phone_normalize(in, out) != 0, "\"%s\" accepted", in);
}


START_TEST(test_phone_chile)
{
    phone_is("912345678", "+56912345678");
    phone_is("9 1234 5678", "+56912345678");
    phone_is("(2) 2345-6789", "+56223456789");
    phone_is("56 9 1234 5678", "+56912345678");
    phone_is("+56 9 1234 5678", "+56912345678");
    phone_is("+56.2.2345.6789", "+56223456789");
}
END_TEST


START_TEST(test_phone_international)
{
    phone_is("+44 20 7946 0958", "+442079460958");
    phone_is("+1 (415) 555-0100", "+14155550100");
    phone_is("+12345678", "+12345678");
    phone_is("+123456789012345", "+123456789012345");
}
END_TEST


START_TEST(test_phone_refused)
{
    phone_refused("");
    phone_refused("12345");
    phone_refused("12345678");               /* 8 digits without + */
    phone_refused("012345678");              /* no Chilean number starts with 0 */
    phone_refused("+1234567");               /* 7 digits */
    phone_refused("+1234567890123456");      /* 16 digits */
    phone_refused("+0123456789");
    phone_refused("+56 9 1234 567");         /* +56 and 8 digits */
    phone_refused("+56 1 2345 6789");
    phone_refused("9 1234 5678 ext 2");
    phone_refused("9+12345678");
    phone_refused("++56912345678");
    phone_refused("0000000000000000000000000000000000000000");
}
END_TEST


START_TEST(test_postal)
{
    ck_assert(user_postal_ok("7500000"));
    ck_assert(user_postal_ok("8320000"));
    ck_assert(!user_postal_ok(""));
    ck_assert(!user_postal_ok("750000"));
    ck_assert(!user_postal_ok("75000000"));
    ck_assert(!user_postal_ok("750-000"));
    ck_assert(!user_postal_ok("75000a0"));
}
END_TEST


START_TEST(test_search_pattern)
{
    char  out[32];

    ck_assert_int_eq(user_search_pattern("ana", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%ana%");
    ck_assert_int_eq(user_search_pattern("100%", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%100\\%%");
    ck_assert_int_eq(user_search_pattern("a_b", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%a\\_b%");
    ck_assert_int_eq(user_search_pattern("c:\\x", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%c:\\\\x%");
    ck_assert_int_eq(user_search_pattern("", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%%");
}
END_TEST


START_TEST(test_search_pattern_bounds)
{
    char  out[8];

    /* "%abcde%" and the NUL fill 8 bytes exactly. */
    ck_assert_int_eq(user_search_pattern("abcde", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%abcde%");
    ck_assert_int_eq(user_search_pattern("abcdef", out, sizeof(out)), -1);
    ck_assert_int_eq(user_search_pattern("abcd%", out, sizeof(out)), -1);
    ck_assert_int_eq(user_search_pattern("abc%", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%abc\\%%");
    ck_assert_int_eq(user_search_pattern("a", out, 2), -1);
}
END_TEST


int
main(void)
{
    Suite    *s;
    TCase    *tc;
    SRunner  *sr;
    int       failed;

    s = suite_create("user");

    tc = tcase_create("phones");
    tcase_add_test(tc, test_phone_chile);
    tcase_add_test(tc, test_phone_international);
    tcase_add_test(tc, test_phone_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("postal codes and searches");
    tcase_add_test(tc, test_postal);
    tcase_add_test(tc, test_search_pattern);
    tcase_add_test(tc, test_search_pattern_bounds);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
