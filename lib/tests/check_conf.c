/* check_conf.c: unit tests of configuration: environment, the FLORES_CONFIG file, numbers
 * and secrets given as files. */

#include <config.h>

#include <unistd.h>

#include "check_fv.h"


static char  tmp_path[64];


/* Writes text to a new temporary file; its path is tmp_path. */
static const char *
write_tmp(const char *text)
{
    int  fd;

    (void) snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_conf.XXXXXX");
    fd = mkstemp(tmp_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    ck_assert_int_eq(close(fd), 0);
    return tmp_path;
}


static void
unlink_tmp(void)
{
    if (tmp_path[0] != '\0') {
        (void) unlink(tmp_path);
        tmp_path[0] = '\0';
    }
}


START_TEST(environment_values)
{
    fv_conf_t  *c;

    ck_assert_int_eq(setenv("FLORES_TEST_A", "hello", 1), 0);
    c = fv_conf_open();
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_A", "x"), "hello");
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_MISSING", "dflt"), "dflt");
    ck_assert_ptr_null(fv_conf_str(c, "FLORES_TEST_MISSING", NULL));
    fv_conf_close(c);
}
END_TEST


START_TEST(file_values_and_precedence)
{
    fv_conf_t  *c;

    write_tmp("# a comment\n"
              "\n"
              "FLORES_TEST_B = from file \n"
              "FLORES_TEST_C=\"quoted value\"\n"
              "export FLORES_TEST_D='single'\n"
              "FLORES_TEST_E=first\n"
              "FLORES_TEST_E=second\n"
              "FLORES_TEST_ENV=file loses\r\n");
    ck_assert_int_eq(setenv("FLORES_CONFIG", tmp_path, 1), 0);
    ck_assert_int_eq(setenv("FLORES_TEST_ENV", "environment wins", 1), 0);

    c = fv_conf_open();
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_B", NULL), "from file");
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_C", NULL), "quoted value");
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_D", NULL), "single");
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_E", NULL), "second");
    ck_assert_str_eq(fv_conf_str(c, "FLORES_TEST_ENV", NULL), "environment wins");
    fv_conf_close(c);
    unlink_tmp();
}
END_TEST


START_TEST(file_errors_refuse_to_start)
{
    ck_assert_int_eq(setenv("FLORES_CONFIG", "/nonexistent/flores.conf", 1), 0);
    ck_assert_ptr_null(fv_conf_open());

    write_tmp("FLORES_OK=1\nthis line has no equals sign\n");
    ck_assert_int_eq(setenv("FLORES_CONFIG", tmp_path, 1), 0);
    ck_assert_ptr_null(fv_conf_open());
    unlink_tmp();

    write_tmp("lower_case=1\n");
    ck_assert_int_eq(setenv("FLORES_CONFIG", tmp_path, 1), 0);
    ck_assert_ptr_null(fv_conf_open());
    unlink_tmp();
}
END_TEST


START_TEST(numbers_with_ranges)
{
    fv_conf_t  *c;

    ck_assert_int_eq(setenv("FLORES_TEST_N", "42", 1), 0);
    ck_assert_int_eq(setenv("FLORES_TEST_BIG", "100000", 1), 0);
    ck_assert_int_eq(setenv("FLORES_TEST_BAD", "12abc", 1), 0);
    ck_assert_int_eq(setenv("FLORES_TEST_EMPTY", "", 1), 0);
    c = fv_conf_open();

    ck_assert_int_eq(fv_conf_long(c, "FLORES_TEST_N", 1, 0, 100), 42);
    ck_assert_int_eq(fv_conf_long(c, "FLORES_TEST_BIG", 7, 0, 100), 7);
    ck_assert_int_eq(fv_conf_long(c, "FLORES_TEST_BAD", 7, 0, 100), 7);
    ck_assert_int_eq(fv_conf_long(c, "FLORES_TEST_EMPTY", 7, 0, 100), 7);
    ck_assert_int_eq(fv_conf_long(c, "FLORES_TEST_NONE", 7, 0, 100), 7);

    ck_assert(fv_conf_long_ok(c, "FLORES_TEST_N", 0, 100));
    ck_assert(!fv_conf_long_ok(c, "FLORES_TEST_BIG", 0, 100));
    ck_assert(!fv_conf_long_ok(c, "FLORES_TEST_BAD", 0, 100));
    ck_assert(fv_conf_long_ok(c, "FLORES_TEST_NONE", 0, 100));
    fv_conf_close(c);
}
END_TEST


START_TEST(secret_from_value_or_file)
{
    fv_conf_t      *c;
    unsigned char  *s;
    size_t          len;

    write_tmp("s3cret-bytes\n");
    ck_assert_int_eq(setenv("FLORES_TEST_SECRET_FILE", tmp_path, 1), 0);
    ck_assert_int_eq(setenv("FLORES_TEST_DIRECT", "inline", 1), 0);
    c = fv_conf_open();

    s = fv_conf_secret(c, "FLORES_TEST_SECRET", &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, 12);
    ck_assert(memcmp(s, "s3cret-bytes", 12) == 0);
    free(s);

    s = fv_conf_secret(c, "FLORES_TEST_DIRECT", &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq((char *) s, "inline");
    ck_assert_uint_eq(len, 6);
    free(s);

    ck_assert_ptr_null(fv_conf_secret(c, "FLORES_TEST_ABSENT", &len));
    ck_assert_uint_eq(len, 0);
    fv_conf_close(c);
    unlink_tmp();
}
END_TEST


START_TEST(secret_file_keeps_inner_bytes)
{
    fv_conf_t      *c;
    unsigned char  *s;
    size_t          len;
    char            big[3000];

    /* Only one trailing newline (or CRLF) goes; a binary key keeps everything else. */
    write_tmp("line one\nline two\r\n");
    ck_assert_int_eq(setenv("FLORES_TEST_KEY_FILE", tmp_path, 1), 0);
    c = fv_conf_open();
    s = fv_conf_secret(c, "FLORES_TEST_KEY", &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq((char *) s, "line one\nline two");
    free(s);
    fv_conf_close(c);
    unlink_tmp();

    /* Larger than the first read buffer. */
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_tmp(big);
    ck_assert_int_eq(setenv("FLORES_TEST_KEY_FILE", tmp_path, 1), 0);
    c = fv_conf_open();
    s = fv_conf_secret(c, "FLORES_TEST_KEY", &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, sizeof(big) - 1);
    free(s);
    fv_conf_close(c);
    unlink_tmp();

    ck_assert_int_eq(setenv("FLORES_TEST_KEY_FILE", "/nonexistent/key", 1), 0);
    c = fv_conf_open();
    ck_assert_ptr_null(fv_conf_secret(c, "FLORES_TEST_KEY", &len));
    fv_conf_close(c);
}
END_TEST


START_TEST(secret_file_from_the_config_file)
{
    fv_conf_t      *c;
    unsigned char  *s;
    size_t          len;
    char            line[128], key_path[64];

    write_tmp("from-a-file");
    (void) snprintf(key_path, sizeof(key_path), "%s", tmp_path);
    (void) snprintf(line, sizeof(line), "FLORES_TEST_PW_FILE=%s\n", key_path);
    write_tmp(line);
    ck_assert_int_eq(setenv("FLORES_CONFIG", tmp_path, 1), 0);

    c = fv_conf_open();
    s = fv_conf_secret(c, "FLORES_TEST_PW", &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq((char *) s, "from-a-file");
    free(s);
    fv_conf_close(c);
    unlink_tmp();
    (void) unlink(key_path);
}
END_TEST


START_TEST(log_levels)
{
    fv_conf_t  *c;

    ck_assert_int_eq(setenv("FLORES_LOG_LEVEL", "warn", 1), 0);
    c = fv_conf_open();
    ck_assert_int_eq(fv_conf_log_level(c), FV_LOG_WARN);
    fv_conf_close(c);

    ck_assert_int_eq(setenv("FLORES_LOG_LEVEL", "DEBUG", 1), 0);
    c = fv_conf_open();
    ck_assert_int_eq(fv_conf_log_level(c), FV_LOG_DEBUG);
    fv_conf_close(c);

    ck_assert_int_eq(setenv("FLORES_LOG_LEVEL", "loud", 1), 0);
    c = fv_conf_open();
    ck_assert_int_eq(fv_conf_log_level(c), FV_LOG_INFO);
    fv_conf_close(c);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR);
    (void) unsetenv("FLORES_CONFIG");

    s = suite_create("conf");
    tc = tcase_create("conf");
    tcase_add_test(tc, environment_values);
    tcase_add_test(tc, file_values_and_precedence);
    tcase_add_test(tc, file_errors_refuse_to_start);
    tcase_add_test(tc, numbers_with_ranges);
    tcase_add_test(tc, secret_from_value_or_file);
    tcase_add_test(tc, secret_file_keeps_inner_bytes);
    tcase_add_test(tc, secret_file_from_the_config_file);
    tcase_add_test(tc, log_levels);
    suite_add_tcase(s, tc);

    return check_run(s);
}
