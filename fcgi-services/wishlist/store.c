/* store.c: the wishlists in Redis: the sorted set wishlist:<userId> of product ids, scored by
 * the time each was added; changed only by single commands or a script. */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "wishlist.h"
#include "fv_redis.h"


#define WISHLIST_KEY_MAX  48

/* Adds ARGV[1] with score ARGV[2] unless present (0) or the set holds ARGV[3] (-1): 1. */
static const char  wishlist_add_lua[] =
    "if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end\n"
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "return 1\n";


static void
wishlist_key(char *key, size_t size, const char *user_id)
{
    (void) snprintf(key, size, "wishlist:%s", user_id);
}


static int
wishlist_integer(redisReply *reply, const char *what, long long *v)
{
    int  rc;

    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    rc = fv_redis_integer(reply, what, v);
    freeReplyObject(reply);
    return rc;
}


int
wishlist_store_add(fv_worker_t *w, const char *user_id, const char *product_id)
{
    struct timeval  tv;
    long long       v, now;
    char            key[WISHLIST_KEY_MAX];
    int             rc;

    wishlist_key(key, sizeof(key), user_id);
    (void) gettimeofday(&tv, NULL);
    now = (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;

    rc = wishlist_integer(fv_redis_command(w, "EVAL %s 1 %b %b %lld %d", wishlist_add_lua,
                                           key, strlen(key), product_id, strlen(product_id),
                                           now, WISHLIST_ITEMS_MAX),
                          "wishlist add", &v);
    if (rc != FV_OK) {
        return rc;
    }

    return v == 1 ? FV_OK : v == 0 ? WISHLIST_PRESENT : WISHLIST_FULL;
}


int
wishlist_store_remove(fv_worker_t *w, const char *user_id, const char *product_id)
{
    long long  v;
    char       key[WISHLIST_KEY_MAX];
    int        rc;

    wishlist_key(key, sizeof(key), user_id);

    rc = wishlist_integer(fv_redis_command(w, "ZREM %b %b", key, strlen(key),
                                           product_id, strlen(product_id)),
                          "wishlist remove", &v);
    if (rc != FV_OK) {
        return rc;
    }

    return v == 1 ? FV_OK : WISHLIST_ABSENT;
}


int
wishlist_store_has(fv_worker_t *w, const char *user_id, const char *product_id)
{
    redisReply  *reply;
    char         key[WISHLIST_KEY_MAX];
    int          rc;

    wishlist_key(key, sizeof(key), user_id);

    reply = fv_redis_command(w, "ZSCORE %b %b", key, strlen(key),
                             product_id, strlen(product_id));
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        rc = WISHLIST_ABSENT;
    } else if (reply->type == REDIS_REPLY_STRING) {
        rc = FV_OK;
    } else {
        fv_log(FV_LOG_ERROR, "redis wishlist read: unexpected reply");
        rc = FV_ERROR;
    }

    freeReplyObject(reply);
    return rc;
}


int
wishlist_store_items(fv_worker_t *w, const char *user_id, wishlist_item_t *items, size_t *n)
{
    redisReply  *reply, *m, *s;
    char         key[WISHLIST_KEY_MAX], *end;
    size_t       i, k;
    double       score;

    wishlist_key(key, sizeof(key), user_id);
    *n = 0;

    reply = fv_redis_command(w, "ZREVRANGE %b 0 %d WITHSCORES", key, strlen(key),
                             WISHLIST_ITEMS_MAX - 1);
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        fv_log(FV_LOG_ERROR, "redis wishlist read: %s",
               reply->type == REDIS_REPLY_ERROR ? reply->str : "not an array");
        freeReplyObject(reply);
        return FV_ERROR;
    }

    k = 0;
    for (i = 0; i + 1 < reply->elements && k < WISHLIST_ITEMS_MAX; i += 2) {
        m = reply->element[i];
        s = reply->element[i + 1];

        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING
            || m->len > WISHLIST_PRODUCT_ID_MAX || memchr(m->str, '\0', m->len) != NULL)
        {
            continue;
        }

        score = strtod(s->str, &end);
        if (end == s->str || *end != '\0') {
            continue;
        }

        memcpy(items[k].product_id, m->str, m->len);
        items[k].product_id[m->len] = '\0';
        if (!fv_product_id_ok(items[k].product_id)) {
            continue;
        }

        items[k].added_ms = (long long) score;
        k++;
    }

    freeReplyObject(reply);
    *n = k;
    return FV_OK;
}


int
wishlist_store_clear(fv_worker_t *w, const char *user_id)
{
    long long  v;
    char       key[WISHLIST_KEY_MAX];

    wishlist_key(key, sizeof(key), user_id);

    return wishlist_integer(fv_redis_command(w, "DEL %b", key, strlen(key)),
                            "wishlist clear", &v);
}
