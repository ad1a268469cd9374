#!/usr/bin/perl
# 70-backup.t: ./flores backup and ./flores restore, a round trip between two stacks of the
# test's own.  Stack A (run/deploy-backup-a, port base 28000) gets users (an admin made with
# flores-admin, two customers), a product of its own, a changed stock, carts, a wishlist and
# orders (one moved on to "confirmed").  Its backup is restored into stack B (run/deploy-
# backup-b, port base 29000), fresh and empty; through B's gateway the same users log in with
# the same passwords (same ids, same roles), and the orders (ids, numbers, totals, status,
# lines), carts (lines), wishlist and products (ids, stock, the new product) are the same.
# The catalogue is identical document for document (flores-catalog dumps of A and B, _id and
# types included), every PostgreSQL table holds as many rows, Redis as many keys.  A second
# restore into B is refused (it has data now) unless --force; a damaged backup is refused
# before anything is touched.  Both stacks are stopped and wiped at the end, also on failure.
# FLORES_DEPLOY_PORT_BASE moves the port bases (A on it, B 1000 above) when others hold them.
# The stores are reached as the stacks' own tools do: PostgreSQL as postgres with the stack's
# passfile, Redis as its flores-admin user, flores-admin as the auth service's role.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Run qw(run slurp);
use Cwd qw(abs_path);
use File::Temp ();
use JSON::PP ();
use Test::More;

my $ROOT = abs_path("$FindBin::Bin/../..");
my $JSON = JSON::PP->new->utf8->canonical;
my $BASE = $ENV{FLORES_DEPLOY_PORT_BASE} || 28000;
my %A = (name => 'A', base => $BASE, dir => "$ROOT/run/deploy-backup-a");
my %B = (name => 'B', base => $BASE + 1000, dir => "$ROOT/run/deploy-backup-b");
my $BACKUP = "$ROOT/run/deploy-backup-a/backups/roundtrip";

# Facts of another stack (its stack.env exported by the caller) must not leak into these.
delete @ENV{qw(FLORES_HTTP_PORT FLORES_HTTPS_PORT FLORES_BUILD_DIR FLORES_ASAN FLORES_URL
               FLORES_JWT_SECRET_FILE FLORES_JWT_ALG FLORES_JWT_KEYS_DIR FLORES_JWKS_FILE
               FLORES_JWT_JWKS_FILE FLORES_JWT_KEY_ACTIVATION FLORES_SECRETS_DIR
               FLORES_GATEWAY_KEY_FILE FLORES_SOCK_DIR FLORES_INTERNAL_SOCKET PGPASSFILE
               FLORES_PG_URL FLORES_REDIS_URL FLORES_AMQP_URL FLORES_MONGO_URL
               FLORES_STACK_DIR FLORES_PORT_BASE)};
$ENV{LC_ALL} = 'C';

# ---- helpers --------------------------------------------------------------------------------

# ./flores on stack S.
sub flores {
    my ($s, @args) = @_;
    my $r = run(["$ROOT/flores", @args], timeout => $args[0] eq 'up' ? 1800 : 300,
                env => { FLORES_STACK_DIR => $s->{dir}, FLORES_PORT_BASE => $s->{base} });
    diag("[$s->{name}] ./flores @args exited $r->{rc}:\n$r->{text}") if $r->{rc} != 0 && !$s->{quiet};
    return $r;
}

# An API call on stack S: {status, json, body}.
sub api {
    my ($s, $method, $path, $body, $token) = @_;
    my @cmd = ('curl', '-sS', '--max-time', '15', '-X', $method, '-o', '-', '-w', '\n%{http_code}');
    push @cmd, '-H', "Authorization: Bearer $token" if $token;
    push @cmd, '-H', 'Content-Type: application/json', '--data-binary', $JSON->encode($body) if defined $body;
    my $r = run([@cmd, "http://127.0.0.1:" . ($s->{base} + 80) . $path], timeout => 30);
    my ($raw, $status) = $r->{out} =~ /\A(.*)\n(\d{3})\z/s ? ($1, $2) : ($r->{out}, 0);
    my $json = eval { $JSON->decode($raw) };
    return { status => $status, json => $json, body => $raw };
}

sub data_of { my $r = shift; return ref $r->{json} eq 'HASH' ? ($r->{json}{data} // {}) : {} }

sub port_open {
    my $port = shift;
    require IO::Socket::INET;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2) ? 1 : 0;
}

sub env_of {
    my $s = shift;
    my %e;
    open my $fh, '<', "$s->{dir}/stack.env" or return %e;
    while (<$fh>) { $e{$1} = $2 if /^([A-Z_]+)=(.*)$/ }
    return %e;
}

# The superuser's password: the stack's passfile (stack.env's PGPASSFILE).
sub psql {
    my ($s, $sql) = @_;
    my %e = env_of($s);
    my $r = run(['psql', '-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $s->{base} + 432,
                 '-U', 'postgres', '-d', 'flores', '-c', $sql], env => { PGPASSFILE => $e{PGPASSFILE} // '' });
    diag("psql on $s->{name}: $r->{err}") if $r->{rc};
    return $r->{out};
}

# Rows per table ("schema.table count" lines, sorted), schema_migrations included.
sub table_rows {
    my $s = shift;
    my $gen = psql($s, q{select string_agg(format('select %L || '' '' || count(*) from %I.%I',
        schemaname || '.' || tablename, schemaname, tablename), ' union all ' order by schemaname, tablename)
        from pg_tables where schemaname not in ('pg_catalog', 'information_schema')});
    chomp $gen;
    return psql($s, $gen);
}

# redis-cli as the stack's flores-admin user (the default user is off).
sub redis_cli {
    my ($s, @cmd) = @_;
    my %e = env_of($s);
    return run(['redis-cli', '--no-auth-warning', '-u', $e{FLORES_REDIS_URL} // '', @cmd]);
}

sub wipe {
    my $s = shift;
    return unless -d $s->{dir};
    local $s->{quiet} = 1;
    flores($s, 'down');
    flores($s, 'reset');
    run(['rm', '-rf', $s->{dir}]);
}

END {
    my $status = $?;
    wipe(\%B);
    wipe(\%A);
    $? = $status;
}
$SIG{INT}  = sub { exit 130 };
$SIG{TERM} = sub { exit 143 };
alarm 1800;

# ---- two stacks ---------------------------------------------------------------------------------

wipe(\%A);
wipe(\%B);
for my $s (\%A, \%B) {
    for my $off (80, 81, 101, 432, 379, 672, 17) {
        BAIL_OUT("port " . ($s->{base} + $off) . " is already in use") if port_open($s->{base} + $off);
    }
}
my @build = -f "$ROOT/run/build/nginx-module/.libs/ngx_http_flores_module.so" ? ('--no-build') : ();
is(flores(\%A, 'up', @build)->{rc}, 0, "stack A up (base $A{base})") or BAIL_OUT('stack A did not start');
is(flores(\%B, 'up', '--no-build')->{rc}, 0, "stack B up (base $B{base})") or BAIL_OUT('stack B did not start');
my %envA = env_of(\%A);
my $BIN = $envA{FLORES_BUILD_DIR} // "$ROOT/run/build";

# ---- data in A ------------------------------------------------------------------------------------

my $TAG = sprintf '%d%d', time % 100000, $$ % 1000;
my %admin = (email => "admin-$TAG\@example.com", password => "clave-Admin-$TAG");
{
    my $r = run(["$BIN/fcgi-services/auth/flores-admin", 'create-admin', '--email', $admin{email},
                 '--name', 'Administradora Respaldo'], input => "$admin{password}\n",
                env => { FLORES_PG_URL => "postgresql://flores_auth\@127.0.0.1:" . ($A{base} + 432) . '/flores',
                         FLORES_PG_PASSWORD_FILE => "$envA{FLORES_SECRETS_DIR}/pg/flores_auth.password",
                         FLORES_PG_SCHEMA => 'auth' });
    is($r->{rc}, 0, 'A: flores-admin create-admin') or diag($r->{text});
}
sub login {
    my ($s, $u) = @_;
    my $r = api($s, 'POST', '/api/auth/login', { email => $u->{email}, password => $u->{password} });
    return ($r, data_of($r)->{token} // '', data_of($r)->{user} // {});
}
my (undef, $admin_token, $admin_user) = login(\%A, \%admin);
ok(length $admin_token, 'A: the admin logs in');
$admin{id} = $admin_user->{id};

my @customers;
for my $who (qw(alicia bruno)) {
    my $u = { name => ucfirst($who) . ' Respaldo', email => "$who-$TAG\@example.com", password => "clave-$who-$TAG" };
    my $r = api(\%A, 'POST', '/api/auth/register', $u);
    is($r->{status}, 201, "A: register $who") or diag($r->{body});
    $u->{id} = data_of($r)->{user}{id};
    (undef, $u->{token}) = login(\%A, $u);
    ok(length $u->{token}, "A: $who logs in");
    push @customers, $u;
}
my ($alicia, $bruno) = @customers;

my $NEW = "BK$TAG";
{
    my $r = api(\%A, 'POST', '/api/products', { id => $NEW, name => 'Ramo del respaldo', price => 23990,
        original_price => 27990, description => 'Un ramo creado antes del respaldo, para encontrarlo después.',
        category => 'pruebas', stock => 30, flowers => ['Rosas'], colors => ['rojo'],
        occasions => ['aniversario'] }, $admin_token);
    is($r->{status}, 201, "A: the admin creates product $NEW") or diag($r->{body});
}
my $SEED = do {
    my $r = api(\%A, 'GET', '/api/products?limit=1&sort=price');
    data_of($r)->{products}[0]{id};
};
ok($SEED, "A: a seed product ($SEED)");
{
    my $r = api(\%A, 'PATCH', "/api/products/$SEED/stock", { stock => 77 }, $admin_token);
    is($r->{status}, 200, "A: stock of $SEED set to 77") or diag($r->{body});
}

my $ADDR = { recipient => 'Alicia Respaldo', street => 'Av. Providencia 1234', city => 'Santiago',
             region => 'Metropolitana', postalCode => '7500000', phone => '+56912345678' };
my @orders;
{
    # Alicia: an order from her cart (2 of the new product, 1 of the seed one), then a second
    # order from explicit items, then a cart she keeps.
    is(api(\%A, 'POST', '/api/cart/items', { productId => $NEW, quantity => 2 }, $alicia->{token})->{status}, 200,
       'A: alicia adds the new product to her cart') ;
    is(api(\%A, 'POST', '/api/cart/items', { productId => $SEED, quantity => 1 }, $alicia->{token})->{status}, 200,
       'A: alicia adds the seed product');
    my $r = api(\%A, 'POST', '/api/orders', { shippingAddress => $ADDR, paymentMethod => 'webpay' }, $alicia->{token});
    is($r->{status}, 201, 'A: alicia orders her cart') or diag($r->{body});
    push @orders, data_of($r)->{order};
    $r = api(\%A, 'POST', '/api/orders', { items => [{ productId => $NEW, quantity => 3 }],
        shippingAddress => $ADDR, paymentMethod => 'transfer', notes => 'Entregar en conserjería' }, $alicia->{token});
    is($r->{status}, 201, 'A: alicia orders 3 more') or diag($r->{body});
    push @orders, data_of($r)->{order};
    $r = api(\%A, 'PATCH', "/api/orders/$orders[0]{id}/status", { status => 'confirmed' }, $admin_token);
    is($r->{status}, 200, 'A: the admin confirms the first order') or diag($r->{body});
    is(api(\%A, 'POST', '/api/cart/items', { productId => $SEED, quantity => 4 }, $alicia->{token})->{status}, 200,
       'A: alicia fills a new cart');
    is(api(\%A, 'POST', '/api/cart/items', { productId => $NEW, quantity => 1 }, $bruno->{token})->{status}, 200,
       'A: bruno adds to his cart');
    is(api(\%A, 'POST', '/api/wishlist/items', { productId => $SEED }, $bruno->{token})->{status}, 201,
       'A: bruno adds to his wishlist');
}

# A backup of A as up left it (this also builds flores-catalog into the build directory).
is(flores(\%A, 'backup', "$A{dir}/backups/fresh")->{rc}, 0, './flores backup of A as up left it');

# Every BSON type the catalogue could hold, in a collection of its own: the restore must give
# them back as the store holds them (the catalogue dumps of A and B are compared byte for byte
# below).  The development stand-in itself keeps fewer types than MongoDB (64-bit integers,
# dates, binary and nested ObjectIds come back from it changed, before any backup); a real
# MongoDB keeps them all, and flores-catalog writes and reads each with its type.
{
    my $d = File::Temp->newdir;
    open my $fh, '>', "$d/t70_types.jsonl" or die;
    print {$fh} '{ "_id" : { "$oid" : "5f1e2d3c4b5a697887766554" }, "i32" : { "$numberInt" : "-7" }, '
        . '"i64" : { "$numberLong" : "9007199254740993" }, "dbl" : { "$numberDouble" : "0.10000000000000000555" }, '
        . '"dec" : { "$numberDecimal" : "12345.6789" }, "date" : { "$date" : { "$numberLong" : "1795823184123" } }, '
        . '"bin" : { "$binary" : { "base64" : "AAEC/w==", "subType" : "00" } }, "nul" : null, "t" : true, '
        . '"s" : "Rosas \u00e9 \"comillas\"", "arr" : [ { "$numberInt" : "1" }, "dos", { "k" : { "$oid" : "5f1e2d3c4b5a697887766555" } } ] }' . "\n";
    close $fh;
    my $r = run(["$BIN/tools/catalog/flores-catalog", 'load', '--url', $envA{FLORES_MONGO_URL}, '--dir', "$d"]);
    is($r->{rc}, 0, 'A: a document with every BSON type in collection t70_types') or diag($r->{text});
}

# What B must show after the restore, read from A.
my %want;
sub snapshot {
    my $s = shift;
    my %w;
    $w{orders} = [ map { data_of(api($s, 'GET', "/api/orders/$_->{id}", undef, $alicia->{token}))->{order} } @orders ];
    $w{order_list} = [ map { $_->{id} } @{ data_of(api($s, 'GET', '/api/orders', undef, $alicia->{token}))->{orders} // [] } ];
    $w{cart_alicia} = data_of(api($s, 'GET', '/api/cart', undef, $alicia->{token}))->{cart};
    $w{cart_bruno} = data_of(api($s, 'GET', '/api/cart', undef, $bruno->{token}))->{cart};
    $w{wishlist_bruno} = [ map { $_->{productId} } @{ data_of(api($s, 'GET', '/api/wishlist', undef, $bruno->{token}))->{wishlist}{items} // [] } ];
    $w{new} = data_of(api($s, 'GET', "/api/products/$NEW"))->{product};
    $w{seed} = data_of(api($s, 'GET', "/api/products/$SEED"))->{product};
    $w{total} = data_of(api($s, 'GET', '/api/products?limit=1'))->{pagination}{total};
    return \%w;
}
%want = %{ snapshot(\%A) };
is($want{new}{stock}, 25, 'A: the new product has 30 - 2 - 3 = 25 left');
is($want{seed}{stock}, 76, 'A: the seed product has 77 - 1 = 76 left');
is(scalar @{ $want{cart_alicia}{items} // [] }, 1, "A: alicia's cart has one line");
is($want{orders}[0]{status}, 'confirmed', 'A: the first order is confirmed');
is_deeply($want{wishlist_bruno}, [$SEED], "A: bruno's wishlist");
# the outbox relays and consumers (user profiles, mails) settle before the backup
sleep 2;

# ---- backup ---------------------------------------------------------------------------------------

my $bk = flores(\%A, 'backup', $BACKUP);
is($bk->{rc}, 0, './flores backup on A');
ok(-s "$BACKUP/$_", "the backup has $_") for qw(postgres.dump redis.rdb manifest.txt SHA256SUMS
    catalog/products.jsonl catalog/products.indexes.jsonl);
{
    my $c = run(['sh', '-c', "cd '$BACKUP' && sha256sum --strict --quiet -c SHA256SUMS"]);
    is($c->{rc}, 0, 'every file matches SHA256SUMS') or diag($c->{text});
    my $m = do { local $/; open my $fh, '<', "$BACKUP/manifest.txt" or die; <$fh> };
    like($m, qr/^created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m, 'manifest: the time');
    like($m, qr/^postgres: 1\d\./m, 'manifest: the PostgreSQL version');
    like($m, qr/^redis: \d+\.\d+/m, 'manifest: the Redis version');
    like($m, qr/^catalogue: products \d+$/m, 'manifest: the catalogue counts');
    like($m, qr/^migrations: auth 001/m, 'manifest: the migrations applied');
    my $docs = () = do { open my $fh, '<', "$BACKUP/catalog/products.jsonl" or die; <$fh> };
    is($docs, $want{total} + 0, 'the dump has every product (one line each)') ;
    ok(!-e "$BACKUP.partial", 'no partial directory left');
}

# ---- a quiesced backup: the gateway stops meanwhile and answers again after ----------------------

{
    my $q = "$A{dir}/backups/quiesced";
    my $r = flores(\%A, 'backup', '--quiesce', $q);
    is($r->{rc}, 0, './flores backup --quiesce on A');
    like($r->{out}, qr/nginx\s+stopped.*nginx\s+started/s, 'the gateway stopped for the dump and started again');
    my $m = do { local $/; open my $fh, '<', "$q/manifest.txt" or die; <$fh> } // '';
    like($m, qr/^quiesced: yes$/m, 'manifest: quiesced');
    like($m, qr/^outbox unpublished: 0$/m, 'manifest: every outbox published first');
    is(api(\%A, 'GET', '/api/products?limit=1')->{status}, 200, 'A answers again');
}

# ---- a damaged backup is refused -----------------------------------------------------------------

{
    my $bad = "$A{dir}/backups/damaged";
    run(['cp', '-a', $BACKUP, $bad]);
    open my $fh, '>>', "$bad/redis.rdb" or die;
    print {$fh} "x";
    close $fh;
    local $B{quiet} = 1;
    my $r = flores(\%B, 'restore', $bad);
    isnt($r->{rc}, 0, 'a backup that does not match its checksums is refused');
    like($r->{text}, qr/SHA256SUMS/, '... saying why');
    is(api(\%B, 'GET', '/api/products?limit=1')->{status}, 200, '... and B was left running');
}

# ---- restore into B --------------------------------------------------------------------------------

my $rs = flores(\%B, 'restore', $BACKUP);
is($rs->{rc}, 0, './flores restore on the fresh stack B');
like($rs->{out}, qr/^==> restored in/m, 'restore says it is done');

sub check_b {
    my $when = shift;
    # before anything is done on B (a login adds a refresh token)
    my $rows = table_rows(\%A);
    like($rows, qr/^auth\.users [1-9]/m, "$when: A's tables counted");
    is(table_rows(\%B), $rows, "$when: every PostgreSQL table has as many rows as in A");
    my $keys = sub { my $n = redis_cli($_[0], 'dbsize')->{out}; chomp $n; return $n };
    my $nkeys = $keys->(\%A);
    like($nkeys, qr/^[1-9]\d*$/, "$when: A's Redis keys counted ($nkeys)");
    is($keys->(\%B), $nkeys, "$when: Redis has as many keys as A");
    chomp(my $ttl = redis_cli(\%B, 'ttl', "cart:$alicia->{id}")->{out});
    ok($ttl =~ /^(\d+)$/ && $1 > 86400, "$when: alicia's cart keeps its expiry ($ttl s)");

    # users: the same passwords, ids and roles
    for my $u ($alicia, $bruno) {
        my ($r, $token, $user) = login(\%B, $u);
        is($r->{status}, 200, "$when: $u->{email} logs in on B with the same password") or diag($r->{body});
        is($user->{id}, $u->{id}, "$when: ... the same user id");
        $u->{token} = $token;
    }
    my ($r, $token, $user) = login(\%B, \%admin);
    is($r->{status}, 200, "$when: the admin logs in on B");
    is($user->{role}, 'admin', "$when: ... still an admin");
    $admin_token = $token;
    is(api(\%B, 'GET', '/api/users/me', undef, $alicia->{token})->{json}{data}{profile}{email} // '', $alicia->{email},
       "$when: alicia's profile (user service) is there");

    my $got = snapshot(\%B);
    is_deeply($got->{orders}, $want{orders}, "$when: both orders identical (ids, numbers, lines, totals, status, history)");
    is_deeply($got->{order_list}, $want{order_list}, "$when: alicia's order list");
    is($got->{orders}[0]{status}, 'confirmed', "$when: the first order is still confirmed");
    is_deeply($got->{cart_alicia}, $want{cart_alicia}, "$when: alicia's cart, line for line");
    is_deeply($got->{cart_bruno}, $want{cart_bruno}, "$when: bruno's cart");
    is_deeply($got->{wishlist_bruno}, $want{wishlist_bruno}, "$when: bruno's wishlist");
    is_deeply($got->{new}, $want{new}, "$when: the new product $NEW, stock 25");
    is_deeply($got->{seed}, $want{seed}, "$when: the seed product $SEED, stock 76");
    is($got->{total}, $want{total}, "$when: as many products on sale");

    # document for document, _id and types included
    my $tool = "$BIN/tools/catalog/flores-catalog";
    my $dA = File::Temp->newdir;
    my $dB = File::Temp->newdir;
    my $xa = run([$tool, 'dump', '--url', "mongodb://127.0.0.1:" . ($A{base} + 17) . '/flores', '--dir', "$dA/c"]);
    my $xb = run([$tool, 'dump', '--url', "mongodb://127.0.0.1:" . ($B{base} + 17) . '/flores', '--dir', "$dB/c"]);
    is($xa->{rc} + $xb->{rc}, 0, "$when: flores-catalog dumps of A and B") or diag($xa->{text}, $xb->{text});
    my $d = run(['diff', '-r', "$dA/c", "$dB/c"]);
    is($d->{rc}, 0, "$when: B's catalogue is A's, byte for byte in canonical Extended JSON") or diag(substr($d->{text}, 0, 2000));
}
check_b('restore');

# ---- B has data now ---------------------------------------------------------------------------------

{
    local $B{quiet} = 1;
    my $r = flores(\%B, 'restore', $BACKUP);
    isnt($r->{rc}, 0, 'a second restore into B (which has data now) is refused');
    like($r->{text}, qr/already has data.*--force/s, '... pointing at --force');
}
# B moves on; --force puts it back to the backup.
is(api(\%B, 'POST', '/api/cart/items', { productId => $SEED, quantity => 9 }, $bruno->{token})->{status}, 200,
   'B: bruno changes his cart after the restore');
is(api(\%B, 'PATCH', "/api/products/$NEW/stock", { stock => 1 }, $admin_token)->{status}, 200,
   'B: the stock of the new product changes');
# An event queued on B before the restore is about data the restore replaces: emptied.
my @ev = ("$BIN/tools/events/flores-events");
my %envB = env_of(\%B);
my %amqpB = (env => { FLORES_AMQP_URL => $envB{FLORES_AMQP_URL} });
is(run([@ev, 'declare', '--queue', 't70.stale', '--bind', 't70.#'], %amqpB)->{rc}, 0, 'B: a queue t70.stale');
is(run([@ev, 'publish', '--type', 't70.stale', '--data', '{}'], %amqpB)->{rc}, 0, 'B: an event waits in it');
is(run([@ev, 'count', '--queue', 't70.stale'], %amqpB)->{out}, "1\n", 'B: one message queued');
is(flores(\%B, 'restore', '--force', $BACKUP)->{rc}, 0, './flores restore --force on B');
is(run([@ev, 'count', '--queue', 't70.stale'], %amqpB)->{out}, "0\n", 'the restore emptied the queues');
run([@ev, 'delete', '--queue', 't70.stale'], %amqpB);
check_b('restore --force');

# ---- both down ---------------------------------------------------------------------------------------

is(flores(\%B, 'down')->{rc}, 0, 'B down');
is(flores(\%A, 'down')->{rc}, 0, 'A down');
done_testing();
