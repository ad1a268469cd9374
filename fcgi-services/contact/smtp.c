/* smtp.c: handing one message to the SMTP server with libcurl, and telling a failure
 * worth retrying (unreachable, timeout, 4xx) from a permanent one (5xx). */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "mail.h"


typedef struct {
    const char           *data;
    size_t                len;
    size_t                off;
} mail_upload_t;


static size_t mail_smtp_read(char *buf, size_t size, size_t nitems, void *userdata);


int
mail_smtp_init(mail_smtp_t *s, const fv_conf_t *conf, const char *domain)
{
    const char     *url, *host, *user;
    unsigned char  *pw;
    size_t          pwlen;
    int             n;

    memset(s, 0, sizeof(*s));

    url = fv_conf_str(conf, "FLORES_SMTP_URL", "smtp://127.0.0.1:25");

    if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        fv_log(FV_LOG_ERROR, "FLORES_SMTP_URL must start with smtp:// or smtps://");
        return -1;
    }

    /* libcurl sends the URL's path as the EHLO name; without one it would send "". */
    host = strstr(url, "://") + 3;
    if (strchr(host, '/') == NULL || strchr(host, '/')[1] == '\0') {
        n = snprintf(s->url, sizeof(s->url), "%s%s%s", url,
                     url[strlen(url) - 1] == '/' ? "" : "/", domain);
    } else {
        n = snprintf(s->url, sizeof(s->url), "%s", url);
    }

    if (n < 0 || (size_t) n >= sizeof(s->url)) {
        fv_log(FV_LOG_ERROR, "FLORES_SMTP_URL is too long");
        return -1;
    }

    user = fv_conf_str(conf, "FLORES_SMTP_USER", "");
    if ((size_t) snprintf(s->user, sizeof(s->user), "%s", user) >= sizeof(s->user)) {
        fv_log(FV_LOG_ERROR, "FLORES_SMTP_USER is too long");
        return -1;
    }

    pw = fv_conf_secret(conf, "FLORES_SMTP_PASSWORD", &pwlen);
    if (pw != NULL) {
        s->password = strndup((const char *) pw, pwlen);
        explicit_bzero(pw, pwlen);
        free(pw);
        if (s->password == NULL) {
            return -1;
        }
    }

    if (s->user[0] != '\0' && s->password == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_SMTP_USER is set but FLORES_SMTP_PASSWORD(_FILE) is not");
        mail_smtp_free(s);
        return -1;
    }

    s->starttls = (int) fv_conf_long(conf, "FLORES_SMTP_STARTTLS", 0, 0, 1);
    s->timeout_ms = fv_conf_long(conf, "FLORES_SMTP_TIMEOUT", 30, 1, 600) * 1000;

    return 0;
}


void
mail_smtp_free(mail_smtp_t *s)
{
    if (s->password != NULL) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }

    memset(s, 0, sizeof(*s));
}


static size_t
mail_smtp_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    mail_upload_t  *u = userdata;
    size_t          n;

    n = size * nitems;
    if (n > u->len - u->off) {
        n = u->len - u->off;
    }

    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}


/*
 * The verdict comes from the last SMTP reply code libcurl saw, whatever step failed:
 * 5xx is permanent (the address or the message is refused for good), 4xx and no reply at
 * all (refused connection, timeout, broken connection) are temporary.  Two 5xx are
 * treated as temporary because they say the configuration is wrong, not the message:
 * 530/535 (authentication) are fixed by an operator, and the message waits for it.
 */

mail_send_e
mail_smtp_send(const mail_smtp_t *s, const char *from, const char *rcpt, const char *msg,
    size_t len, long *code, char *why, size_t why_size)
{
    CURL               *c;
    CURLcode            rc;
    struct curl_slist  *list;
    mail_upload_t       up;
    mail_send_e         verdict;
    char                path[MAIL_ADDR_MAX + 3], err[CURL_ERROR_SIZE];

    *code = 0;
    why[0] = '\0';
    err[0] = '\0';
    list = NULL;
    verdict = MAIL_TEMPFAIL;

    c = curl_easy_init();
    if (c == NULL) {
        (void) snprintf(why, why_size, "curl_easy_init failed");
        return MAIL_TEMPFAIL;
    }

    (void) snprintf(path, sizeof(path), "<%s>", rcpt);
    list = curl_slist_append(NULL, path);
    if (list == NULL) {
        (void) snprintf(why, why_size, "out of memory");
        goto out;
    }

    (void) snprintf(path, sizeof(path), "<%s>", from);

    up.data = msg;
    up.len = len;
    up.off = 0;

    if (curl_easy_setopt(c, CURLOPT_URL, s->url) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_MAIL_FROM, path) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_MAIL_RCPT, list) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_smtp_read) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_READDATA, &up) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) len) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK
        || (s->starttls
            && curl_easy_setopt(c, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL) != CURLE_OK)
        || (s->password != NULL
            && (curl_easy_setopt(c, CURLOPT_USERNAME, s->user) != CURLE_OK
                || curl_easy_setopt(c, CURLOPT_PASSWORD, s->password) != CURLE_OK)))
    {
        (void) snprintf(why, why_size, "libcurl refused an option");
        goto out;
    }

    rc = curl_easy_perform(c);

    (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);

    if (rc == CURLE_OK) {
        verdict = MAIL_SENT;
        goto out;
    }

    (void) snprintf(why, why_size, "%s", err[0] != '\0' ? err : curl_easy_strerror(rc));

    if (*code >= 500 && *code <= 599 && *code != 530 && *code != 535
        && rc != CURLE_LOGIN_DENIED)
    {
        verdict = MAIL_PERMFAIL;
    }

out:

    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return verdict;
}
