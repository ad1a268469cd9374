/* check_util.c: unit tests of the small helpers: base64url, UUIDs, SHA-256, time, UTF-8,
 * percent-decoding, ids and the JSON string writer. */

#include <config.h>

#include "check_fv.h"


START_TEST(base64url_rfc4648_vectors)
{
    static const struct {
        const char  *in;
        const char  *out;
    } v[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    char    out[32];
    size_t  i, n;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        n = fv_base64url((const unsigned char *) v[i].in, strlen(v[i].in), out);
        ck_assert_str_eq(out, v[i].out);
        ck_assert_uint_eq(n, strlen(v[i].out));
    }
}
END_TEST


START_TEST(base64url_uses_the_url_alphabet)
{
    /* 0xfb 0xff would be "+/8" in standard base64. */
    const unsigned char  in[] = { 0xfb, 0xff };
    char                 out[8];

    (void) fv_base64url(in, sizeof(in), out);
    ck_assert_str_eq(out, "-_8");
}
END_TEST


START_TEST(uuid_is_version_4)
{
    char    a[37], b[37];
    size_t  i;

    ck_assert_int_eq(fv_uuid(a), 0);
    ck_assert_int_eq(fv_uuid(b), 0);
    ck_assert_uint_eq(strlen(a), 36);
    ck_assert_str_ne(a, b);

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ck_assert_int_eq(a[i], '-');
        } else {
            ck_assert_msg(strchr("0123456789abcdef", a[i]) != NULL, "not hex: %s", a);
        }
    }

    ck_assert_int_eq(a[14], '4');
    ck_assert_msg(strchr("89ab", a[19]) != NULL, "bad variant: %s", a);
}
END_TEST


START_TEST(sha256_known_answers)
{
    char  out[65];

    fv_sha256_hex("abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fv_sha256_hex("", 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST


START_TEST(random_and_constant_time_compare)
{
    unsigned char  a[32], b[32];

    ck_assert_int_eq(fv_random(a, sizeof(a)), 0);
    memcpy(b, a, sizeof(a));
    ck_assert(fv_equal_ct(a, b, sizeof(a)));
    b[31] ^= 1;
    ck_assert(!fv_equal_ct(a, b, sizeof(a)));
}
END_TEST


START_TEST(time_iso_shape)
{
    char  t[25];

    fv_time_iso(t);
    ck_assert_uint_eq(strlen(t), 24);
    ck_assert_int_eq(t[4], '-');
    ck_assert_int_eq(t[10], 'T');
    ck_assert_int_eq(t[19], '.');
    ck_assert_int_eq(t[23], 'Z');
}
END_TEST


START_TEST(utf8_lengths_and_refusals)
{
    ck_assert_int_eq(fv_utf8_len("abc", 3), 3);
    ck_assert_int_eq(fv_utf8_len("ñandú", strlen("ñandú")), 5);
    ck_assert_int_eq(fv_utf8_len("\xe2\x82\xac", 3), 1);             /* € */
    ck_assert_int_eq(fv_utf8_len("\xf0\x9f\x8c\xb9", 4), 1);         /* 🌹 */
    ck_assert_int_eq(fv_utf8_len("\xff", 1), -1);
    ck_assert_int_eq(fv_utf8_len("\xc0\xaf", 2), -1);                /* overlong '/' */
    ck_assert_int_eq(fv_utf8_len("\xed\xa0\x80", 3), -1);            /* a surrogate */
    ck_assert_int_eq(fv_utf8_len("\xf4\x90\x80\x80", 4), -1);        /* above U+10FFFF */
    ck_assert_int_eq(fv_utf8_len("\xe2\x82", 2), -1);                /* truncated */
}
END_TEST


START_TEST(percent_decoding)
{
    char  out[32];

    ck_assert_int_eq(fv_percent_decode("a%20b+c", 7, out, 1), 5);
    ck_assert_str_eq(out, "a b c");
    ck_assert_int_eq(fv_percent_decode("a+b", 3, out, 0), 3);
    ck_assert_str_eq(out, "a+b");
    ck_assert_int_eq(fv_percent_decode("%C3%B1", 6, out, 1), 2);
    ck_assert_str_eq(out, "ñ");
    ck_assert_int_eq(fv_percent_decode("%zz", 3, out, 1), -1);
    ck_assert_int_eq(fv_percent_decode("%4", 2, out, 1), -1);
    ck_assert_int_eq(fv_percent_decode("abc%", 4, out, 1), -1);
}
END_TEST


START_TEST(ids_are_positive_canonical_integers)
{
    ck_assert_int_eq(fv_parse_id("1"), 1);
    ck_assert_int_eq(fv_parse_id("9223372036854775807"), INT64_MAX);
    ck_assert_int_eq(fv_parse_id("9223372036854775808"), -1);
    ck_assert_int_eq(fv_parse_id("0"), -1);
    ck_assert_int_eq(fv_parse_id("007"), -1);
    ck_assert_int_eq(fv_parse_id("-1"), -1);
    ck_assert_int_eq(fv_parse_id("+1"), -1);
    ck_assert_int_eq(fv_parse_id("1 "), -1);
    ck_assert_int_eq(fv_parse_id("1e3"), -1);
    ck_assert_int_eq(fv_parse_id(""), -1);
    ck_assert_int_eq(fv_parse_id(NULL), -1);
}
END_TEST


START_TEST(request_ids)
{
    char  long_id[80];

    ck_assert(fv_request_id_ok("abc-DEF_1.2"));
    ck_assert(!fv_request_id_ok(""));
    ck_assert(!fv_request_id_ok("a b"));
    ck_assert(!fv_request_id_ok("a\"b"));
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    ck_assert(fv_request_id_ok(long_id));
    long_id[64] = 'a';
    long_id[65] = '\0';
    ck_assert(!fv_request_id_ok(long_id));
}
END_TEST


START_TEST(json_strings_are_escaped_and_valid)
{
    fv_buf_t  b;

    fv_buf_init(&b);
    fv_buf_json_str(&b, "a\"b\\c\n\x01\xff" "ñ", 10);
    ck_assert(!b.failed);
    ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\\ufffdñ\"");
    fv_buf_free(&b);
}
END_TEST


START_TEST(buffers_grow)
{
    fv_buf_t  b;
    int       i;

    fv_buf_init(&b);
    for (i = 0; i < 1000; i++) {
        fv_buf_printf(&b, "%04d,", i);
    }
    ck_assert(!b.failed);
    ck_assert_uint_eq(b.len, 5000);
    ck_assert(strncmp(b.data + 4995, "0999,", 5) == 0);
    fv_buf_free(&b);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR);

    s = suite_create("util");
    tc = tcase_create("helpers");
    tcase_add_test(tc, base64url_rfc4648_vectors);
    tcase_add_test(tc, base64url_uses_the_url_alphabet);
    tcase_add_test(tc, uuid_is_version_4);
    tcase_add_test(tc, sha256_known_answers);
    tcase_add_test(tc, random_and_constant_time_compare);
    tcase_add_test(tc, time_iso_shape);
    tcase_add_test(tc, utf8_lengths_and_refusals);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, ids_are_positive_canonical_integers);
    tcase_add_test(tc, request_ids);
    tcase_add_test(tc, json_strings_are_escaped_and_valid);
    tcase_add_test(tc, buffers_grow);
    suite_add_tcase(s, tc);

    return check_run(s);
}
