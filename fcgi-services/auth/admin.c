/* admin.c: flores-admin, the operator's tool: creates the first admin account, promotes or
 * demotes an existing one (through the user service, like the API), and manages the token
 * signing keys. */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "auth.h"
#include "store.h"


#define ADMIN_OK        0
#define ADMIN_FAILED    1
#define ADMIN_USAGE     2

#define ADMIN_LINE_MAX  (AUTH_PASSWORD_MAX * 4 + 2)
#define ADMIN_TRY_HELP  "Try 'flores-admin --help'.\n"


typedef struct {
    const char           *email;
    const char           *name;
    const char           *password_file;
    int                   promote;
    const char           *role;          /* promote / demote: the role asked for */
} admin_args_t;


static int admin_create(const admin_args_t *args);
static int admin_request_role(auth_db_t *db, const auth_user_t *user, const char *role);
static int admin_insert(auth_db_t *db, const fv_conf_t *conf, const char *name,
    const char *email, const admin_args_t *args);
static int admin_check(json_object *input, const char *field, const fv_field_t *spec,
    const char *rule);
static int admin_read_password(const char *path, char *out, size_t size);
static int admin_read_line(FILE *f, const char *prompt, char *out, size_t size);
static void admin_usage(FILE *f);
static int admin_keys(int argc, char **argv);


static const fv_field_t  admin_email_spec[] = {
    { "email",    FV_EMAIL,  FV_REQUIRED, 0, AUTH_EMAIL_MAX, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  admin_name_spec[] = {
    { "name",     FV_STRING, FV_REQUIRED | FV_TRIM, AUTH_NAME_MIN, AUTH_NAME_MAX, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  admin_password_spec[] = {
    { "password", FV_STRING, FV_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


int
main(int argc, char **argv)
{
    static const struct option  options[] = {
        { "email",         required_argument, NULL, 'e' },
        { "name",          required_argument, NULL, 'n' },
        { "password-file", required_argument, NULL, 'p' },
        { "promote",       no_argument,       NULL, 'P' },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    admin_args_t  args;
    int           c;

    memset(&args, 0, sizeof(args));

    if (argc < 2) {
        fprintf(stderr, "flores-admin: a command is needed\n" ADMIN_TRY_HELP);
        return ADMIN_USAGE;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        admin_usage(stdout);
        return ADMIN_OK;
    }

    if (strcmp(argv[1], "keys") == 0) {
        return admin_keys(argc - 1, argv + 1);
    }

    if (strcmp(argv[1], "promote") == 0 || strcmp(argv[1], "demote") == 0) {
        args.role = argv[1][0] == 'p' ? "admin" : "customer";
        args.promote = 1;

    } else if (strcmp(argv[1], "create-admin") != 0) {
        fprintf(stderr, "flores-admin: unknown command \"%s\"\n" ADMIN_TRY_HELP, argv[1]);
        return ADMIN_USAGE;
    }

    opterr = 0;
    optind = 2;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'e':
            args.email = optarg;
            break;
        case 'n':
            args.name = optarg;
            break;
        case 'p':
            args.password_file = optarg;
            break;
        case 'P':
            args.promote = 1;
            break;
        case 'h':
            admin_usage(stdout);
            return ADMIN_OK;
        default:
            fprintf(stderr, "flores-admin: invalid or incomplete option \"%s\"\n"
                    ADMIN_TRY_HELP, argv[optind - 1]);
            return ADMIN_USAGE;
        }
    }

    if (optind < argc) {
        fprintf(stderr, "flores-admin: unexpected argument \"%s\"\n" ADMIN_TRY_HELP,
                argv[optind]);
        return ADMIN_USAGE;
    }

    if (args.role != NULL && args.email == NULL) {
        fprintf(stderr, "flores-admin: %s needs --email\n" ADMIN_TRY_HELP, argv[1]);
        return ADMIN_USAGE;
    }

    if (args.email == NULL || (args.name == NULL && !args.promote)) {
        fprintf(stderr, "flores-admin: create-admin needs --email and --name\n"
                ADMIN_TRY_HELP);
        return ADMIN_USAGE;
    }

    return admin_create(&args);
}


/*
 * Looks the email up first: an existing account is promoted (with --promote) or refused;
 * a new one is created as an admin.  Either way the account and its event are written in
 * one transaction.  The unique index still decides when someone registers meanwhile.
 */

static int
admin_create(const admin_args_t *args)
{
    fv_conf_t     *conf;
    json_object   *input;
    auth_db_t      db = { NULL, NULL, NULL };
    auth_user_t    user;
    const char    *email, *name;
    int            rc, bad;

    rc = ADMIN_FAILED;
    conf = NULL;

    fv_log_init("flores-admin", FV_LOG_WARN);

    input = json_object_new_object();
    json_object_object_add(input, "email", json_object_new_string(args->email));
    json_object_object_add(input, "name", json_object_new_string(args->name ? args->name
                                                                             : ""));

    bad = admin_check(input, "--email", admin_email_spec,
                      "a valid address of at most 254 characters");
    if (args->name != NULL) {
        bad += admin_check(input, "--name", admin_name_spec, "2 to 100 characters");
    }

    if (bad) {
        goto out;
    }

    /* Normalised in place by the validation: trimmed, lower-cased. */
    email = json_object_get_string(json_object_object_get(input, "email"));
    name = json_object_get_string(json_object_object_get(input, "name"));

    conf = fv_conf_open();
    if (conf == NULL) {
        fprintf(stderr, "flores-admin: cannot read the configuration\n");
        goto out;
    }

    db.schema = fv_conf_str(conf, "FLORES_PG_SCHEMA", AUTH_SERVICE);
    db.conn = fv_pg_connect(conf, db.schema);
    if (db.conn == NULL) {
        fprintf(stderr, "flores-admin: cannot connect to PostgreSQL (FLORES_PG_URL)\n");
        goto out;
    }

    switch (auth_store_user_by_email(&db, email, &user)) {

    case FV_OK:
        if (!args->promote) {
            fprintf(stderr, "flores-admin: an account with email %s already exists; "
                    "add --promote to make it an admin\n", user.email);
            goto out;
        }

        rc = admin_request_role(&db, &user, args->role != NULL ? args->role : "admin");
        goto out;

    case AUTH_STORE_NOT_FOUND:
        if (args->role != NULL) {
            fprintf(stderr, "flores-admin: no account with email %s\n", email);
            goto out;
        }

        if (args->name == NULL) {
            fprintf(stderr, "flores-admin: no account with email %s; --name is needed to "
                    "create it\n", email);
            rc = ADMIN_USAGE;
            goto out;
        }

        rc = admin_insert(&db, conf, name, email, args);
        goto out;

    default:
        fprintf(stderr, "flores-admin: the database query failed\n");
        goto out;
    }

out:

    if (db.conn != NULL) {
        PQfinish(db.conn);
    }

    fv_conf_close(conf);
    json_object_put(input);
    return rc;
}


/*
 * The user service owns role and active (and their version): flores-admin does not change
 * them here but asks for the change with a user.role_change_requested event {userId, role},
 * which the user service applies exactly as an administrator's PATCH /api/users/:id, and whose
 * outcome, user.role_changed {userId, role, active, version}, reaches auth like any other
 * (a demotion there also revokes the user's access tokens).  So every path produces one
 * event shape with one version sequence.  The change lands within moments, once both
 * services have read their queues.
 */

static int
admin_request_role(auth_db_t *db, const auth_user_t *user, const char *role)
{
    json_object  *event;
    int           rc;

    event = json_object_new_object();
    json_object_object_add(event, "userId", json_object_new_int64(user->id));
    json_object_object_add(event, "role", json_object_new_string(role));
    json_object_object_add(event, "requestedBy", json_object_new_string("flores-admin"));

    rc = ADMIN_FAILED;

    /* One statement: its own transaction. */
    if (auth_store_event(db, "user.role_change_requested", event) == FV_OK) {
        printf("%s (id %" PRId64 ") will be %s: asked the user service (it applies the change "
               "and auth follows)\n", user->email, user->id,
               strcmp(role, "admin") == 0 ? "an admin" : "a customer");
        rc = ADMIN_OK;
    } else {
        fprintf(stderr, "flores-admin: could not record the role change of %s\n",
                user->email);
    }

    json_object_put(event);
    return rc;
}


static int
admin_insert(auth_db_t *db, const fv_conf_t *conf, const char *name, const char *email,
    const admin_args_t *args)
{
    auth_password_t   cost;
    auth_user_t       user;
    json_object      *input, *event, *copy;
    char              password[ADMIN_LINE_MAX], hash[AUTH_HASH_MAX];
    int               rc, open, store;

    rc = ADMIN_FAILED;
    open = 0;
    event = NULL;
    hash[0] = '\0';
    password[0] = '\0';
    input = json_object_new_object();

    if (admin_read_password(args->password_file, password, sizeof(password)) != 0) {
        goto out;
    }

    json_object_object_add(input, "password", json_object_new_string(password));
    if (admin_check(input, "the password", admin_password_spec, "8 to 128 characters")) {
        goto out;
    }

    if (auth_password_init(&cost, conf) != 0
        || auth_password_hash(&cost, password, hash, sizeof(hash)) != 0)
    {
        fprintf(stderr, "flores-admin: cannot hash the password\n");
        goto out;
    }

    if (auth_store_begin(db) != FV_OK) {
        fprintf(stderr, "flores-admin: the database is not available\n");
        goto out;
    }

    open = 1;

    store = auth_store_user_insert(db, name, email, hash, "admin", &user);
    if (store == AUTH_STORE_CONFLICT) {
        fprintf(stderr, "flores-admin: an account with email %s already exists\n", email);
        goto out;
    }

    if (store != FV_OK) {
        fprintf(stderr, "flores-admin: could not create the account\n");
        goto out;
    }

    event = json_object_new_object();
    json_object_object_add(event, "userId", json_object_new_int64(user.id));
    json_object_object_add(event, "name", json_object_new_string(user.name));
    json_object_object_add(event, "email", json_object_new_string(user.email));
    json_object_object_add(event, "role", json_object_new_string(user.role));
    json_object_object_add(event, "createdAt", json_object_new_string(user.created_at));

    if (auth_store_event(db, "user.registered", event) != FV_OK) {
        fprintf(stderr, "flores-admin: could not record the user.registered event\n");
        goto out;
    }

    open = 0;
    if (auth_store_commit(db) != FV_OK) {
        fprintf(stderr, "flores-admin: could not commit the new account\n");
        goto out;
    }

    printf("created admin %s <%s> (id %" PRId64 ")\n", user.name, user.email, user.id);
    rc = ADMIN_OK;

out:

    if (open) {
        auth_store_rollback(db);
    }

    /* json-c keeps its own copy of the password: clear it before it is freed. */
    if (json_object_object_get_ex(input, "password", &copy)) {
        explicit_bzero((char *) json_object_get_string(copy),
                       (size_t) json_object_get_string_len(copy));
    }

    json_object_put(event);
    json_object_put(input);
    explicit_bzero(password, sizeof(password));
    explicit_bzero(hash, sizeof(hash));
    return rc;
}


/* Validates one field of input against a one-field spec; 1 (and a message) when bad. */

static int
admin_check(json_object *input, const char *field, const fv_field_t *spec, const char *rule)
{
    fv_errors_t  *errors;
    size_t        bad;

    errors = fv_errors_new();
    if (errors == NULL) {
        fprintf(stderr, "flores-admin: out of memory\n");
        return 1;
    }

    bad = fv_validate(input, spec, 0, errors);
    fv_errors_free(errors);

    if (bad) {
        fprintf(stderr, "flores-admin: %s is not valid: %s, no control characters\n",
                field, rule);
        return 1;
    }

    return 0;
}


/* The password: the first line of the file, or of standard input (asked twice, without
 * echo, on a terminal). */

static int
admin_read_password(const char *path, char *out, size_t size)
{
    struct termios   saved, quiet;
    char             again[ADMIN_LINE_MAX];
    FILE            *f;
    int              rc, tty;

    if (path != NULL) {
        f = fopen(path, "r");
        if (f == NULL) {
            fprintf(stderr, "flores-admin: cannot open %s\n", path);
            return -1;
        }

        rc = admin_read_line(f, NULL, out, size);
        fclose(f);
        return rc;
    }

    tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;

    if (!tty) {
        return admin_read_line(stdin, NULL, out, size);
    }

    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);

    rc = admin_read_line(stdin, "Password: ", out, size);
    if (rc == 0) {
        rc = admin_read_line(stdin, "\nRepeat it: ", again, sizeof(again));
    }

    (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputc('\n', stderr);

    if (rc == 0 && strcmp(out, again) != 0) {
        fprintf(stderr, "flores-admin: the two passwords differ\n");
        rc = -1;
    }

    explicit_bzero(again, sizeof(again));
    return rc;
}


static int
admin_read_line(FILE *f, const char *prompt, char *out, size_t size)
{
    size_t  len;

    if (prompt != NULL) {
        fputs(prompt, stderr);
        fflush(stderr);
    }

    if (fgets(out, (int) size, f) == NULL) {
        fprintf(stderr, "flores-admin: no password given\n");
        return -1;
    }

    len = strlen(out);

    if (len == size - 1 && out[len - 1] != '\n' && !feof(f)) {
        fprintf(stderr, "flores-admin: the password is too long\n");
        explicit_bzero(out, size);
        return -1;
    }

    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) {
        out[--len] = '\0';
    }

    return 0;
}


/*
 * flores-admin keys init|rotate|list|prune: the ES256 signing keys in FLORES_JWT_KEYS_DIR
 * (see keys.c).  init makes the first key, signing at once (nothing when there is one);
 * rotate adds a key that starts signing FLORES_JWT_KEY_ACTIVATION seconds (default 5) from
 * now and retires the current one then; prune drops keys retired longer than
 * FLORES_ACCESS_TTL + FLORES_JWT_LEEWAY ago (no token they signed is still valid).  Every
 * command but list rewrites FLORES_JWT_JWKS_FILE (when set) with the public keys that remain;
 * the auth service sees the change within a second.  Reload the gateway after a rotation,
 * well within the activation delay.
 */

static int
admin_keys(int argc, char **argv)
{
    fv_conf_t      *conf;
    auth_keyset_t   ks;
    const char     *dir, *jwks, *cmd;
    int64_t         now;
    size_t          i;
    long            activation, ttl, leeway;
    int             rc, n, changed;

    if (argc != 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "rotate") != 0
                      && strcmp(argv[1], "list") != 0 && strcmp(argv[1], "prune") != 0))
    {
        fprintf(stderr, "flores-admin: keys needs one of init, rotate, list, prune\n"
                ADMIN_TRY_HELP);
        return ADMIN_USAGE;
    }

    cmd = argv[1];
    fv_log_init("flores-admin", FV_LOG_WARN);

    conf = fv_conf_open();
    if (conf == NULL) {
        fprintf(stderr, "flores-admin: cannot read the configuration\n");
        return ADMIN_FAILED;
    }

    rc = ADMIN_FAILED;
    changed = 0;
    memset(&ks, 0, sizeof(ks));
    now = (int64_t) time(NULL);

    dir = fv_conf_str(conf, "FLORES_JWT_KEYS_DIR", NULL);
    jwks = fv_conf_str(conf, "FLORES_JWT_JWKS_FILE", NULL);
    activation = fv_conf_long(conf, "FLORES_JWT_KEY_ACTIVATION", 5, 0, 86400);
    ttl = fv_conf_long(conf, "FLORES_ACCESS_TTL", 900, 30, 86400);
    leeway = fv_conf_long(conf, "FLORES_JWT_LEEWAY", 60, 0, 3600);

    if (dir == NULL || *dir == '\0') {
        fprintf(stderr, "flores-admin: FLORES_JWT_KEYS_DIR is not set\n");
        goto out;
    }

    if (strcmp(cmd, "list") != 0 && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "flores-admin: cannot create %s\n", dir);
        goto out;
    }

    if (auth_keys_load(&ks, dir) != 0) {
        fprintf(stderr, "flores-admin: the keys of %s do not load\n", dir);
        goto out;
    }

    if (strcmp(cmd, "init") == 0) {
        if (ks.n == 0) {
            if (auth_keys_add(&ks, dir, now) != 0) {
                fprintf(stderr, "flores-admin: cannot make a key\n");
                goto out;
            }
            printf("key %s signs from now on\n", ks.keys[0].kid);
            changed = 1;
        } else {
            printf("%s already has %zu key(s)\n", dir, ks.n);
        }

    } else if (strcmp(cmd, "rotate") == 0) {
        if (auth_keys_add(&ks, dir, now + activation) != 0) {
            fprintf(stderr, "flores-admin: cannot make a key\n");
            goto out;
        }
        printf("key %s signs in %ld s; reload the gateway now\n", ks.keys[ks.n - 1].kid,
               activation);
        changed = 1;

    } else if (strcmp(cmd, "prune") == 0) {
        n = auth_keys_prune(&ks, dir, now - ttl - leeway);
        printf("%d key(s) dropped, %zu left\n", n, ks.n);
        changed = 1;

    } else {
        const auth_key_t  *cur = auth_keys_signing(&ks, now);

        for (i = 0; i < ks.n; i++) {
            printf("%s activate_at=%" PRId64 " retired_at=%" PRId64 "%s\n", ks.keys[i].kid,
                   ks.keys[i].activate_at, ks.keys[i].retired_at,
                   &ks.keys[i] == cur ? " signing" : "");
        }
    }

    /* The public keys first: a key is published before the state makes it sign. */
    if (changed && jwks != NULL && *jwks != '\0' && auth_keys_write_jwks(&ks, jwks) != 0) {
        fprintf(stderr, "flores-admin: cannot write %s\n", jwks);
        goto out;
    }

    if (changed && auth_keys_save(&ks, dir) != 0) {
        fprintf(stderr, "flores-admin: cannot write the key state in %s\n", dir);
        goto out;
    }

    rc = ADMIN_OK;

out:

    auth_keys_free(&ks);
    fv_conf_close(conf);
    return rc;
}


static void
admin_usage(FILE *f)
{
    fputs("usage: flores-admin create-admin --email EMAIL --name NAME [--password-file FILE]\n"
          "                                 [--promote]\n"
          "       flores-admin promote --email EMAIL\n"
          "       flores-admin demote --email EMAIL\n"
          "       flores-admin keys init|rotate|list|prune\n"
          "\n"
          "Creates an admin account in the auth service's database and records its\n"
          "user.registered event, as registration does.\n"
          "\n"
          "  --email EMAIL          the account's email (stored lower-cased)\n"
          "  --name NAME            2 to 100 characters\n"
          "  --password-file FILE   read the password (8 to 128 characters) from the first\n"
          "                         line of FILE; without it, from standard input\n"
          "  --promote              if the account exists, make it an admin instead of\n"
          "                         failing (as the promote command)\n"
          "\n"
          "promote and demote ask the user service, which owns roles, to make the account an\n"
          "admin or a customer (event user.role_change_requested); it applies the change as\n"
          "PATCH /api/users/:id does and auth follows (a demotion revokes the user's tokens).\n"
          "\n"
          "keys manages the ES256 signing keys in FLORES_JWT_KEYS_DIR and rewrites the public\n"
          "FLORES_JWT_JWKS_FILE: init (the first key), rotate (a new key signing after\n"
          "FLORES_JWT_KEY_ACTIVATION seconds, default 5), list, prune (drop keys retired\n"
          "longer than FLORES_ACCESS_TTL + FLORES_JWT_LEEWAY ago).\n"
          "\n"
          "Environment: FLORES_PG_URL, FLORES_PG_SCHEMA (default auth), FLORES_CONFIG,\n"
          "FLORES_ARGON2_MEMORY_KIB, FLORES_ARGON2_TIME, FLORES_ARGON2_PARALLELISM.\n"
          "Exit status: 0 done, 1 failed, 2 wrong usage.\n", f);
}
