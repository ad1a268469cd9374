/* fv_redis.h: Redis for services that declare FV_STORE_REDIS (hiredis 0.14, the old API).
 *
 * FLORES_REDIS_URL (redis://[user[:password]@]host:port/db; port 6379 and db 0 when left out)
 * sets the store; with a user, the connection starts with AUTH user password, the password
 * taken from the URL or else from FLORES_REDIS_PASSWORD[_FILE] (an ACL user; never logged).
 * FLORES_REDIS_URL_FILE names a file holding the whole URL instead.
 * Every worker holds its own connection, opened on first use with a 1 s connect timeout and
 * a 1 s command timeout (FLORES_REDIS_TIMEOUT ms, 50 to 1000).  After a failure (refused,
 * broken, timed out, a server loading its data) the connection is not used again in that
 * request and is closed at its end; the next call opens a new one, so an outage costs a
 * request at most a second and the service serves again as soon as Redis answers, without a
 * restart.  /health sends PING.
 *
 * Arguments are always passed with %s or %b (binary-safe), never spliced into the command's
 * text. */

#ifndef FV_REDIS_H
#define FV_REDIS_H

#include <hiredis/hiredis.h>
#include "fv.h"


/* One command on the worker's connection, as redisCommand() takes it.  Returns the reply
 * (the caller freeReplyObject()s it), which may be a REDIS_REPLY_ERROR the server gave for
 * this command (a script's error, a wrong type); or NULL when Redis could not be reached or
 * the connection failed (logged and counted): the caller returns FV_STORE_DOWN. */
redisReply *fv_redis_command(fv_worker_t *w, const char *fmt, ...);

/* The same with argv-style arguments (binary-safe). */
redisReply *fv_redis_argv(fv_worker_t *w, int argc, const char **argv, const size_t *lens);

/* An integer reply's value; FV_ERROR (logged with what) for an error or another type. */
int fv_redis_integer(const redisReply *reply, const char *what, long long *value);

#endif /* FV_REDIS_H */
