/* flores-catalog.c: dump and load the product catalogue's MongoDB database, document for
 * document, as canonical MongoDB Extended JSON (v2), so that a load gives back identical
 * documents: the same _id ObjectIds, and every value with its BSON type (int32, int64,
 * double, date, ...).  Speaks the wire protocol through mongo-c-driver: works against a real
 * MongoDB as well as the stand-in of the development stacks.  No mongodump needed.
 *
 *   flores-catalog dump  --url URL [--db NAME] --dir DIR
 *       every collection of the database (system.* apart) into DIR/<name>.jsonl, one
 *       document per line in _id order, and its indexes into DIR/<name>.indexes.jsonl
 *   flores-catalog load  --url URL [--db NAME] --dir DIR [--drop]
 *       inserts the documents of every DIR/<name>.jsonl and creates the indexes listed
 *       beside them; --drop first drops every collection of the database, so that it holds
 *       exactly the dump; without it a collection that already has documents is refused.
 *       A directory without any .jsonl is the dump of an empty database.
 *   flores-catalog count --url URL [--db NAME]
 *       "<name> <documents>" per collection
 *   flores-catalog version --url URL
 *       the server's version (buildInfo)
 *
 * The database is --db, else the URL's, else "flores".  Exit status: 0 done, 1 failed (the
 * reason on stderr), 2 usage.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <mongoc/mongoc.h>


#define CAT_BATCH      500            /* documents per insert batch */
#define CAT_PATH_MAX   4096
#define CAT_LINE_MAX   (17 * 1024 * 1024)   /* a 16 MiB document in JSON, with room */


typedef struct {
    const char  *cmd;
    const char  *url;
    const char  *db;
    const char  *dir;
    int          drop;
} cat_opts_t;


static void
cat_usage(FILE *f)
{
    (void) fprintf(f,
        "Usage:\n"
        "  flores-catalog dump  --url URL [--db NAME] --dir DIR\n"
        "  flores-catalog load  --url URL [--db NAME] --dir DIR [--drop]\n"
        "  flores-catalog count --url URL [--db NAME]\n"
        "  flores-catalog version --url URL\n"
        "Documents as canonical MongoDB Extended JSON, one per line, in DIR/<collection>.jsonl;\n"
        "indexes in DIR/<collection>.indexes.jsonl.\n");
}


static int
cat_fail(const char *what, const bson_error_t *error)
{
    (void) fprintf(stderr, "flores-catalog: %s: %s\n", what,
                   error != NULL ? error->message : strerror(errno));
    return 1;
}


/* A collection name that is safe as a file name and not a system collection. */
static int
cat_name_ok(const char *name)
{
    size_t  n = strlen(name);

    if (n == 0 || n > 200 || name[0] == '.' || strncmp(name, "system.", 7) == 0) {
        return 0;
    }

    return strchr(name, '/') == NULL;
}


static int
cat_path(char *buf, size_t size, const char *dir, const char *name, const char *suffix)
{
    int  n = snprintf(buf, size, "%s/%s%s", dir, name, suffix);

    if (n < 0 || (size_t) n >= size) {
        (void) fprintf(stderr, "flores-catalog: path too long: %s/%s%s\n", dir, name, suffix);
        return -1;
    }

    return 0;
}


/* Writes one document as a line of canonical Extended JSON. */
static int
cat_write_doc(FILE *f, const bson_t *doc)
{
    size_t  len;
    char   *json = bson_as_canonical_extended_json(doc, &len);
    int     rc = 0;

    if (json == NULL) {
        (void) fprintf(stderr, "flores-catalog: a document cannot be written as JSON\n");
        return -1;
    }
    if (fwrite(json, 1, len, f) != len || fputc('\n', f) == EOF) {
        rc = -1;
    }
    bson_free(json);

    return rc;
}


/* ---- dump --------------------------------------------------------------------------------- */

static int
cat_dump_collection(mongoc_database_t *db, const char *name, const char *dir, long *count)
{
    mongoc_collection_t  *c;
    mongoc_cursor_t      *cur;
    const bson_t         *doc;
    bson_t                filter = BSON_INITIALIZER;
    bson_t               *opts;
    bson_error_t          error;
    char                  path[CAT_PATH_MAX], tmp[CAT_PATH_MAX];
    FILE                 *f;
    int                   rc = 0;

    *count = 0;
    c = mongoc_database_get_collection(db, name);

    /* the documents, in _id order (the same dump of the same data is the same file) */
    if (cat_path(path, sizeof(path), dir, name, ".jsonl") != 0
        || cat_path(tmp, sizeof(tmp), dir, name, ".jsonl.tmp") != 0)
    {
        mongoc_collection_destroy(c);
        return 1;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        mongoc_collection_destroy(c);
        return cat_fail(tmp, NULL);
    }
    opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}");
    cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
        if (cat_write_doc(f, doc) != 0) {
            rc = cat_fail(tmp, NULL);
        }
        (*count)++;
    }
    if (rc == 0 && mongoc_cursor_error(cur, &error)) {
        rc = cat_fail(name, &error);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    if (fclose(f) != 0 && rc == 0) {
        rc = cat_fail(tmp, NULL);
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = cat_fail(path, NULL);
    }

    /* the indexes (their specifications as the server lists them) */
    if (rc == 0) {
        if (cat_path(path, sizeof(path), dir, name, ".indexes.jsonl") != 0) {
            rc = 1;
        } else if ((f = fopen(path, "w")) == NULL) {
            rc = cat_fail(path, NULL);
        } else {
            cur = mongoc_collection_find_indexes_with_opts(c, NULL);
            while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
                if (cat_write_doc(f, doc) != 0) {
                    rc = cat_fail(path, NULL);
                }
            }
            if (rc == 0 && mongoc_cursor_error(cur, &error)) {
                rc = cat_fail(name, &error);
            }
            mongoc_cursor_destroy(cur);
            if (fclose(f) != 0 && rc == 0) {
                rc = cat_fail(path, NULL);
            }
        }
    }

    mongoc_collection_destroy(c);
    return rc;
}


static int
cat_dump(mongoc_database_t *db, const char *dir)
{
    char          **names;
    bson_error_t    error;
    long            count;
    int             rc = 0;
    size_t          i;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return cat_fail(dir, NULL);
    }
    names = mongoc_database_get_collection_names_with_opts(db, NULL, &error);
    if (names == NULL) {
        return cat_fail("listCollections", &error);
    }
    for (i = 0; names[i] != NULL && rc == 0; i++) {
        if (!cat_name_ok(names[i])) {
            if (strncmp(names[i], "system.", 7) != 0) {
                (void) fprintf(stderr, "flores-catalog: collection name not dumped: %s\n", names[i]);
                rc = 1;
            }
            continue;
        }
        rc = cat_dump_collection(db, names[i], dir, &count);
        if (rc == 0) {
            (void) printf("%s %ld\n", names[i], count);
        }
    }
    bson_strfreev(names);

    return rc;
}


/* ---- load --------------------------------------------------------------------------------- */

/* Reads the next line (without its newline) into *buf; 0 at the end, -1 on error. */
static ssize_t
cat_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t  n = getline(buf, cap, f);

    if (n < 0) {
        return ferror(f) ? -1 : 0;
    }
    if (n > CAT_LINE_MAX) {
        errno = EFBIG;
        return -1;
    }
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) {
        (*buf)[--n] = '\0';
    }

    return n == 0 ? 1 : n;     /* an empty line: skipped by the caller (length 1, "") */
}


static int
cat_insert_batch(mongoc_collection_t *c, bson_t **docs, size_t n, const char *name)
{
    bson_error_t  error;
    int           ok;

    if (n == 0) {
        return 0;
    }
    ok = mongoc_collection_insert_many(c, (const bson_t **) docs, n, NULL, NULL, &error);

    return ok ? 0 : cat_fail(name, &error);
}


static int
cat_load_documents(mongoc_collection_t *c, const char *path, const char *name, long *count)
{
    FILE          *f;
    char          *line = NULL;
    size_t         cap = 0, n = 0, i;
    ssize_t        len = 0;
    bson_t        *docs[CAT_BATCH];
    bson_error_t   error;
    int            rc = 0;

    *count = 0;
    f = fopen(path, "r");
    if (f == NULL) {
        return cat_fail(path, NULL);
    }
    while (rc == 0 && (len = cat_line(f, &line, &cap)) > 0) {
        if (line[0] == '\0') {
            continue;
        }
        docs[n] = bson_new_from_json((const uint8_t *) line, len, &error);
        if (docs[n] == NULL) {
            (void) fprintf(stderr, "flores-catalog: %s: document %ld: %s\n", path, *count + 1,
                           error.message);
            rc = 1;
            break;
        }
        n++;
        (*count)++;
        if (n == CAT_BATCH) {
            rc = cat_insert_batch(c, docs, n, name);
            for (i = 0; i < n; i++) {
                bson_destroy(docs[i]);
            }
            n = 0;
        }
    }
    if (rc == 0 && len < 0) {
        rc = cat_fail(path, NULL);
    }
    if (rc == 0) {
        rc = cat_insert_batch(c, docs, n, name);
    }
    for (i = 0; i < n; i++) {
        bson_destroy(docs[i]);
    }
    free(line);
    (void) fclose(f);

    return rc;
}


/* createIndexes with the dumped specifications, _id's own apart ("v" and "ns" are the
 * server's to set). */
static int
cat_load_indexes(mongoc_collection_t *c, const char *path, const char *name)
{
    FILE          *f;
    char          *line = NULL;
    size_t         cap = 0;
    ssize_t        len = 0;
    bson_t        *spec, cmd, arr, one;
    bson_iter_t    it;
    bson_error_t   error;
    char           key[16];
    const char    *k;
    uint32_t       n = 0;
    int            rc = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? 0 : cat_fail(path, NULL);
    }
    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "createIndexes", name);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
    while (rc == 0 && (len = cat_line(f, &line, &cap)) > 0) {
        if (line[0] == '\0') {
            continue;
        }
        spec = bson_new_from_json((const uint8_t *) line, len, &error);
        if (spec == NULL) {
            (void) fprintf(stderr, "flores-catalog: %s: %s\n", path, error.message);
            rc = 1;
            break;
        }
        if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it)
            && strcmp(bson_iter_utf8(&it, NULL), "_id_") == 0)
        {
            bson_destroy(spec);
            continue;
        }
        (void) bson_uint32_to_string(n++, &k, key, sizeof(key));
        bson_append_document_begin(&arr, k, -1, &one);
        if (bson_iter_init(&it, spec)) {
            while (bson_iter_next(&it)) {
                if (strcmp(bson_iter_key(&it), "v") != 0 && strcmp(bson_iter_key(&it), "ns") != 0) {
                    (void) bson_append_iter(&one, NULL, 0, &it);
                }
            }
        }
        bson_append_document_end(&arr, &one);
        bson_destroy(spec);
    }
    bson_append_array_end(&cmd, &arr);
    if (rc == 0 && len < 0) {
        rc = cat_fail(path, NULL);
    }
    if (rc == 0 && n > 0
        && !mongoc_collection_write_command_with_opts(c, &cmd, NULL, NULL, &error))
    {
        rc = cat_fail("createIndexes", &error);
    }
    bson_destroy(&cmd);
    free(line);
    (void) fclose(f);

    return rc;
}


static int
cat_drop_all(mongoc_database_t *db)
{
    char                 **names;
    mongoc_collection_t   *c;
    bson_error_t           error;
    int                    rc = 0;
    size_t                 i;

    names = mongoc_database_get_collection_names_with_opts(db, NULL, &error);
    if (names == NULL) {
        return cat_fail("listCollections", &error);
    }
    for (i = 0; names[i] != NULL && rc == 0; i++) {
        if (strncmp(names[i], "system.", 7) == 0) {
            continue;
        }
        c = mongoc_database_get_collection(db, names[i]);
        if (!mongoc_collection_drop_with_opts(c, NULL, &error) && error.code != 26) {
            rc = cat_fail(names[i], &error);      /* 26: NamespaceNotFound, already gone */
        }
        mongoc_collection_destroy(c);
    }
    bson_strfreev(names);

    return rc;
}


static int
cat_load(mongoc_database_t *db, const char *dir, int drop)
{
    DIR                  *d;
    struct dirent        *e;
    mongoc_collection_t  *c;
    char                  name[256], path[CAT_PATH_MAX];
    char                **names = NULL;
    size_t                nnames = 0, i, len;
    long                  count, existing;
    bson_t                empty = BSON_INITIALIZER;
    bson_error_t          error;
    int                   rc = 0;

    d = opendir(dir);
    if (d == NULL) {
        return cat_fail(dir, NULL);
    }
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0
            || (len > 14 && strcmp(e->d_name + len - 14, ".indexes.jsonl") == 0))
        {
            continue;
        }
        if (len - 6 >= sizeof(name)) {
            (void) fprintf(stderr, "flores-catalog: file name too long: %s\n", e->d_name);
            rc = 1;
            break;
        }
        memcpy(name, e->d_name, len - 6);
        name[len - 6] = '\0';
        if (!cat_name_ok(name)) {
            continue;
        }
        names = realloc(names, (nnames + 1) * sizeof(*names));
        if (names == NULL || (names[nnames] = strdup(name)) == NULL) {
            rc = cat_fail("memory", NULL);
            break;
        }
        nnames++;
    }
    (void) closedir(d);

    if (rc == 0 && nnames == 0) {
        /* a dump of an empty database: loading it (with --drop) empties the database */
        (void) fprintf(stderr, "flores-catalog: no <collection>.jsonl in %s: no collection to load\n", dir);
    }
    if (rc == 0 && drop) {
        rc = cat_drop_all(db);
    }
    for (i = 0; i < nnames && rc == 0; i++) {
        c = mongoc_database_get_collection(db, names[i]);
        existing = mongoc_collection_count_documents(c, &empty, NULL, NULL, NULL, &error);
        if (existing < 0) {
            rc = cat_fail(names[i], &error);
        } else if (existing > 0) {
            (void) fprintf(stderr, "flores-catalog: collection %s already holds %ld documents "
                           "(--drop replaces the whole database)\n", names[i], existing);
            rc = 1;
        }
        if (rc == 0 && cat_path(path, sizeof(path), dir, names[i], ".jsonl") != 0) {
            rc = 1;
        }
        if (rc == 0) {
            rc = cat_load_documents(c, path, names[i], &count);
        }
        if (rc == 0 && cat_path(path, sizeof(path), dir, names[i], ".indexes.jsonl") != 0) {
            rc = 1;
        }
        if (rc == 0) {
            rc = cat_load_indexes(c, path, names[i]);
        }
        if (rc == 0) {
            (void) printf("%s %ld\n", names[i], count);
        }
        mongoc_collection_destroy(c);
    }
    for (i = 0; i < nnames; i++) {
        free(names[i]);
    }
    free(names);

    return rc;
}


/* ---- count -------------------------------------------------------------------------------- */

static int
cat_count(mongoc_database_t *db)
{
    char                 **names;
    mongoc_collection_t   *c;
    bson_t                 empty = BSON_INITIALIZER;
    bson_error_t           error;
    int64_t                n;
    int                    rc = 0;
    size_t                 i;

    names = mongoc_database_get_collection_names_with_opts(db, NULL, &error);
    if (names == NULL) {
        return cat_fail("listCollections", &error);
    }
    for (i = 0; names[i] != NULL && rc == 0; i++) {
        if (strncmp(names[i], "system.", 7) == 0) {
            continue;
        }
        c = mongoc_database_get_collection(db, names[i]);
        n = mongoc_collection_count_documents(c, &empty, NULL, NULL, NULL, &error);
        if (n < 0) {
            rc = cat_fail(names[i], &error);
        } else {
            (void) printf("%s %lld\n", names[i], (long long) n);
        }
        mongoc_collection_destroy(c);
    }
    bson_strfreev(names);

    return rc;
}


/* ---- version ------------------------------------------------------------------------------ */

static int
cat_version(mongoc_database_t *db)
{
    bson_t        *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t         reply;
    bson_iter_t    it;
    bson_error_t   error;
    int            rc = 0;

    if (!mongoc_database_command_simple(db, cmd, NULL, &reply, &error)) {
        rc = cat_fail("buildInfo", &error);
    } else if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it)) {
        (void) printf("%s\n", bson_iter_utf8(&it, NULL));
    } else {
        (void) printf("unknown\n");
    }
    bson_destroy(&reply);
    bson_destroy(cmd);

    return rc;
}


/* ---- main --------------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    static const struct option  longopts[] = {
        { "url",  required_argument, NULL, 'u' },
        { "db",   required_argument, NULL, 'd' },
        { "dir",  required_argument, NULL, 'D' },
        { "drop", no_argument,       NULL, 'x' },
        { "help", no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    cat_opts_t          o = { NULL, NULL, NULL, NULL, 0 };
    mongoc_uri_t       *uri;
    mongoc_client_t    *client;
    mongoc_database_t  *db;
    bson_error_t        error;
    bson_t             *ping, reply;
    const char         *name;
    int                 ch, rc;

    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u': o.url = optarg; break;
        case 'd': o.db = optarg; break;
        case 'D': o.dir = optarg; break;
        case 'x': o.drop = 1; break;
        case 'h': cat_usage(stdout); return 0;
        default:  cat_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        cat_usage(stderr);
        return 2;
    }
    o.cmd = argv[optind];
    if (o.url == NULL && (o.url = getenv("FLORES_MONGO_URL")) == NULL) {
        (void) fprintf(stderr, "flores-catalog: --url (or FLORES_MONGO_URL) is needed\n");
        return 2;
    }
    if ((strcmp(o.cmd, "dump") == 0 || strcmp(o.cmd, "load") == 0) && o.dir == NULL) {
        (void) fprintf(stderr, "flores-catalog: %s needs --dir\n", o.cmd);
        return 2;
    }
    if (strcmp(o.cmd, "dump") != 0 && strcmp(o.cmd, "load") != 0 && strcmp(o.cmd, "count") != 0
        && strcmp(o.cmd, "version") != 0)
    {
        cat_usage(stderr);
        return 2;
    }

    mongoc_init();
    uri = mongoc_uri_new_with_error(o.url, &error);
    if (uri == NULL) {
        rc = cat_fail(o.url, &error);
        mongoc_cleanup();
        return rc;
    }
    if (mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0) == 0) {
        (void) mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    }
    name = o.db != NULL ? o.db : mongoc_uri_get_database(uri);
    if (name == NULL || *name == '\0') {
        name = "flores";
    }
    client = mongoc_client_new_from_uri_with_error(uri, &error);
    if (client == NULL) {
        rc = cat_fail(o.url, &error);
        mongoc_uri_destroy(uri);
        mongoc_cleanup();
        return rc;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    (void) mongoc_client_set_appname(client, "flores-catalog");
    db = mongoc_client_get_database(client, name);

    ping = BCON_NEW("ping", BCON_INT32(1));
    if (!mongoc_database_command_simple(db, ping, NULL, &reply, &error)) {
        rc = cat_fail(o.url, &error);
    } else if (strcmp(o.cmd, "dump") == 0) {
        rc = cat_dump(db, o.dir);
    } else if (strcmp(o.cmd, "load") == 0) {
        rc = cat_load(db, o.dir, o.drop);
    } else if (strcmp(o.cmd, "count") == 0) {
        rc = cat_count(db);
    } else {
        rc = cat_version(db);
    }
    bson_destroy(&reply);
    bson_destroy(ping);
    if (fflush(stdout) != 0 && rc == 0) {
        rc = cat_fail("stdout", NULL);
    }

    mongoc_database_destroy(db);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();

    return rc;
}
