/* store.c: the carts in Redis.  A cart is the hash cart:<userId> (productId -> quantity),
 * changed only by single atomic commands or scripts, never read, modified and written back,
 * so that concurrent changes never lose a line; every change sets its expiry again. */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "fv_redis.h"


#define CART_KEY_MAX  48

/* Adds ARGV[2] to line ARGV[1] unless the line would pass ARGV[3] units, or a new line
 * would pass ARGV[4] lines; then the cart lives ARGV[5] seconds more.  Returns the line's
 * quantity, -1 over the quantity, -2 over the lines. */
static const char  cart_add_lua[] =
    "local q = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "local n = tonumber(ARGV[2])\n"
    "if q then\n"
    "  if tonumber(q) + n > tonumber(ARGV[3]) then return -1 end\n"
    "else\n"
    "  if n > tonumber(ARGV[3]) then return -1 end\n"
    "  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -2 end\n"
    "end\n"
    "local t = redis.call('HINCRBY', KEYS[1], ARGV[1], n)\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "return t\n";

/* Sets line ARGV[1] to ARGV[2] units (0 removes it) when it exists; the cart, if any is
 * left, lives ARGV[3] seconds more.  Returns 1, or 0 when the line does not exist. */
static const char  cart_set_lua[] =
    "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "if tonumber(ARGV[2]) == 0 then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end\n"
    "return 1\n";


static void
cart_key(char *key, size_t size, const char *user_id)
{
    (void) snprintf(key, size, "cart:%s", user_id);
}


int
cart_store_add(fv_worker_t *w, const char *user_id, const char *product_id, long quantity,
    long long *total)
{
    redisReply  *reply;
    long long    v;
    char         key[CART_KEY_MAX];
    int          rc;

    cart_key(key, sizeof(key), user_id);

    reply = fv_redis_command(w, "EVAL %s 1 %b %b %ld %d %d %d", cart_add_lua,
                             key, strlen(key), product_id, strlen(product_id), quantity,
                             CART_QUANTITY_MAX, CART_LINES_MAX, CART_TTL);
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    rc = fv_redis_integer(reply, "cart add", &v);
    freeReplyObject(reply);

    if (rc != FV_OK) {
        return rc;
    }

    if (v == -1) {
        return CART_OVER_QUANTITY;
    }

    if (v == -2) {
        return CART_FULL;
    }

    *total = v;
    return FV_OK;
}


int
cart_store_set(fv_worker_t *w, const char *user_id, const char *product_id, long quantity)
{
    redisReply  *reply;
    long long    v;
    char         key[CART_KEY_MAX];
    int          rc;

    cart_key(key, sizeof(key), user_id);

    reply = fv_redis_command(w, "EVAL %s 1 %b %b %ld %d", cart_set_lua,
                             key, strlen(key), product_id, strlen(product_id), quantity,
                             CART_TTL);
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    rc = fv_redis_integer(reply, "cart set", &v);
    freeReplyObject(reply);

    if (rc != FV_OK) {
        return rc;
    }

    return v == 1 ? FV_OK : CART_ABSENT;
}


static int
cart_line_cmp(const void *a, const void *b)
{
    return strcmp(((const cart_line_t *) a)->product_id, ((const cart_line_t *) b)->product_id);
}


int
cart_store_lines(fv_worker_t *w, const char *user_id, cart_line_t *lines, size_t *n)
{
    redisReply  *reply, *f, *v;
    char         key[CART_KEY_MAX], *end;
    size_t       i, k;
    long long    q;

    cart_key(key, sizeof(key), user_id);
    *n = 0;

    reply = fv_redis_command(w, "HGETALL %b", key, strlen(key));
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        fv_log(FV_LOG_ERROR, "redis cart read: %s",
               reply->type == REDIS_REPLY_ERROR ? reply->str : "not an array");
        freeReplyObject(reply);
        return FV_ERROR;
    }

    k = 0;
    for (i = 0; i + 1 < reply->elements && k < CART_LINES_MAX; i += 2) {
        f = reply->element[i];
        v = reply->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || f->len > CART_PRODUCT_ID_MAX || memchr(f->str, '\0', f->len) != NULL)
        {
            continue;
        }

        q = strtoll(v->str, &end, 10);
        if (end == v->str || *end != '\0' || q < 1) {
            continue;
        }

        memcpy(lines[k].product_id, f->str, f->len);
        lines[k].product_id[f->len] = '\0';
        if (!fv_product_id_ok(lines[k].product_id)) {
            continue;
        }

        lines[k].quantity = q;
        k++;
    }

    freeReplyObject(reply);

    qsort(lines, k, sizeof(cart_line_t), cart_line_cmp);
    *n = k;
    return FV_OK;
}


int
cart_store_clear(fv_worker_t *w, const char *user_id)
{
    redisReply  *reply;
    char         key[CART_KEY_MAX];
    int          rc;

    cart_key(key, sizeof(key), user_id);

    reply = fv_redis_command(w, "DEL %b", key, strlen(key));
    if (reply == NULL) {
        return FV_STORE_DOWN;
    }

    rc = reply->type == REDIS_REPLY_INTEGER ? FV_OK : FV_ERROR;
    if (rc != FV_OK) {
        fv_log(FV_LOG_ERROR, "redis cart clear: unexpected reply");
    }

    freeReplyObject(reply);
    return rc;
}
