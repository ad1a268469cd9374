/* fv_mongo.h: MongoDB for services that declare FV_STORE_MONGO (mongo-c-driver 1.23).
 *
 * FLORES_MONGO_URL (a mongodb:// URL) and FLORES_MONGO_DB (default: the URL's database, else
 * "flores") set the store.  Every worker holds its own single-threaded client, opened lazily
 * and closed after a network failure so that the next request opens a fresh one: an outage
 * costs each request at most FLORES_MONGO_TIMEOUT milliseconds (connect and server
 * selection, default 800, at most 1000), and the service serves again as soon as the server
 * answers, without a restart.  Socket reads and writes time out after
 * FLORES_MONGO_SOCKET_TIMEOUT ms (default 5000).  /health runs "ping".
 *
 * Write standard MongoDB: the same queries must work on a real server and on the stand-in
 * of the development stacks (ENVIRONMENT.md: ObjectId _ids only, unique secondary indexes
 * not enforced, no positional updates, every find a full scan). */

#ifndef FV_MONGO_H
#define FV_MONGO_H

#include <mongoc/mongoc.h>
#include "fv.h"


/* The worker's client, connected on first use; NULL when it cannot be made or failed
 * earlier in the request (already logged and counted): the caller returns FV_STORE_DOWN. */
mongoc_client_t *fv_mongo_client(fv_worker_t *w);

/* A collection of the service's database on the worker's client (the caller destroys it);
 * NULL as for fv_mongo_client(). */
mongoc_collection_t *fv_mongo_collection(fv_worker_t *w, const char *name);

/* Classifies the error of a failed call: FV_STORE_DOWN when the server was unreachable or
 * the connection broke (the store error is counted, fv_mongo_client() answers NULL for the
 * rest of the request, and the client is closed at its end, to be reopened by the next
 * one), FV_ERROR otherwise (logged with what).  Duplicate keys are not
 * errors to report: test them with fv_mongo_duplicate() first. */
int fv_mongo_failed(fv_worker_t *w, const bson_error_t *error, const char *what);

/* True when a failed write was refused for a duplicate key (E11000). */
int fv_mongo_duplicate(const bson_error_t *error);

/* The database the service uses: FLORES_MONGO_DB, else the URL's, else "flores". */
const char *fv_mongo_database(mongoc_client_t *client, const fv_conf_t *conf);

/* A standalone client for programs and threads outside the workers (start-up work,
 * command-line tools), with the same URL and timeouts; NULL with a logged reason. */
mongoc_client_t *fv_mongo_connect(const fv_conf_t *conf);

#endif /* FV_MONGO_H */
