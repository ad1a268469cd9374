#!/usr/bin/perl
# 20-packages.t: the Debian packages.  `./flores package` builds them (into run/t-packages/debs);
# their contents are checked with dpkg-deb (the module in /usr/lib/nginx/modules and enabled
# through modules-available, the exact nginx ABI as a dependency, the settings as conffiles
# under /etc/flores, the units, programs, migrations and seed).  Then they are installed into a
# clean Debian bookworm container (tools/container-engine, base image local/flores-bookworm,
# host network) the way docs/install.md says, against stores this test starts on the host
# (a stack of its own: run/t-packages, port base 31000, everything in 31000-31999): apt-get
# install pulls nginx and the libraries from Debian, flores-migrate makes the schemas in a
# database of their own, the services run as their units say (user flores, EnvironmentFile=,
# ExecStart=), Debian's nginx with the packaged gateway configuration (the module loaded through
# modules-enabled).  The trust boundaries: postinst made the gateway key, the first ES256 key
# and /run/flores; flores-provision (from the host, with the stores' admin access) made every
# service's own credentials; each service listens on its unix socket, which nobody cannot
# open and which answers 403 without the gateway key.  Through that nginx: /health, the seeded
# catalogue, register and login.  The container and the stores are removed at the end, also
# on failure.  FLORES_DEPLOY_PORT_BASE moves the port base (and names the container after it)
# when another run holds 31000.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Run qw(slurp);
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP ();
use Test::More;

# stdout and stderr together, in order (Flores::Run)
sub run { my ($argv, %o) = @_; return Flores::Run::run($argv, %o, merge => 1) }

my $ROOT  = abs_path("$FindBin::Bin/../..");
my $WORK  = "$ROOT/run/t-packages";
my $DEBS  = "$WORK/debs";
my $STACK = "$WORK/stack";
my $BASE  = $ENV{FLORES_DEPLOY_PORT_BASE} || 31000;
my $NAME  = $BASE == 31000 ? 'flores-t-packages' : "flores-t-packages-$BASE";
my $ENGINE = "$ROOT/tools/container-engine";
my $HTTP  = 'http://127.0.0.1:' . ($BASE + 80);
$ENV{LC_ALL} = 'C';

sub tail_of { my ($t, $n) = @_; $n //= 4000; return length($t) > $n ? substr($t, -$n) : $t }

# All of the stack's ports in this test's range, whatever the caller exported (./flores test
# exports its own stack's).
my %STACK_ENV = (FLORES_STACK_DIR => $STACK, FLORES_PORT_BASE => $BASE,
                 FLORES_HTTP_PORT => $BASE + 80, FLORES_HTTPS_PORT => $BASE + 443);
sub flores { return run(["$ROOT/flores", @_], env => \%STACK_ENV, timeout => 300) }
sub engine { my ($args, %o) = @_; return run([$ENGINE, 'cmd', @$args], %o) }

my $container_started = 0;
sub cleanup {
    if ($container_started) {
        engine(['rm', '-f', '-t', '0', $NAME], timeout => 60);
        $container_started = 0;
    }
    flores('down') if -d $STACK;
    flores('reset') if -d $STACK;
}
END { my $rc = $?; cleanup(); $? = $rc; }
$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 1 };

# ---- build -----------------------------------------------------------------------------------

remove_tree($DEBS, "$WORK/build");
make_path($WORK);
my $t0 = time;
my $r = run(["$ROOT/flores", 'package'], timeout => 1800,
            env => { FLORES_PACKAGE_DIR => $DEBS, FLORES_PACKAGE_BUILD_DIR => "$WORK/build" });
is($r->{rc}, 0, './flores package') or diag(tail_of($r->{out}));
diag(sprintf './flores package: %d s', time - $t0);

my ($module_deb) = glob("$DEBS/libnginx-mod-http-flores_*_*.deb");
my ($flores_deb) = glob("$DEBS/flores_*_*.deb");
ok($module_deb, 'the module package was made') or BAIL_OUT('no libnginx-mod-http-flores package');
ok($flores_deb, 'the services package was made') or BAIL_OUT('no flores package');
like($r->{out}, qr/\Q$_\E/, "./flores package prints $_") for map { s{.*/}{}r } $module_deb, $flores_deb;

# ---- contents --------------------------------------------------------------------------------

sub deb_field { my ($deb, $f) = @_; my $x = run(['dpkg-deb', '-f', $deb, $f]); chomp(my $v = $x->{out}); return $v }
sub deb_files {
    my ($deb) = @_;
    my $x = run(['dpkg-deb', '-c', $deb]);
    my %files;
    for (split /\n/, $x->{out}) {
        my @f = split ' ', $_, 6;
        my $path = $f[5] // next;
        $path =~ s/ -> .*//;
        $path =~ s{^\./}{/};
        $path =~ s{/$}{};
        $files{$path} = $f[0];
    }
    return \%files;
}
sub deb_control_file {
    my ($deb, $name) = @_;
    my $dir = "$WORK/ctrl-" . (($deb =~ m{([^/]+)$})[0]);
    remove_tree($dir);
    run(['dpkg-deb', '-e', $deb, $dir]);
    open my $fh, '<', "$dir/$name" or return '';
    local $/;
    return <$fh>;
}

my $mod = deb_files($module_deb);
ok(exists $mod->{'/usr/lib/nginx/modules/ngx_http_flores_module.so'},
   'module package: /usr/lib/nginx/modules/ngx_http_flores_module.so');
ok(exists $mod->{'/usr/share/nginx/modules-available/mod-http-flores.conf'},
   'module package: modules-available/mod-http-flores.conf');
like(deb_field($module_deb, 'Depends'), qr/(^|, )nginx-abi-[0-9.]+-[0-9]+(,|$)/,
     'module package depends on the exact nginx ABI');
like(deb_control_file($module_deb, 'postinst'), qr{modules-enabled},
     'module package enables the module on install');

my $svc = deb_files($flores_deb);
my @want = (
    (map { "/usr/sbin/flores-$_" } qw(auth product user order cart wishlist review contact admin migrate provision keys)),
    '/usr/lib/tmpfiles.d/flores.conf',
    '/usr/bin/flores-events',
    '/usr/bin/flores-catalog',
    (map { "/lib/systemd/system/flores-$_.service" } qw(auth product user order cart wishlist review contact migrate)),
    '/lib/systemd/system/flores.target',
    '/usr/share/flores/catalog.json',
    '/usr/share/flores/migrations/auth/001_init.sql',
    '/usr/share/flores/web/index.html',
    '/usr/share/flores/grafana/flores-dashboard.json',
    '/etc/flores/prometheus/prometheus.yml',
    '/etc/flores/nginx/nginx.conf',
    '/etc/flores/mail/contact_ack.txt',
);
my @absent = grep { !exists $svc->{$_} } @want;
is_deeply(\@absent, [], 'services package: programs, units, migrations, seed, storefront, gateway and monitoring settings');
my @conffiles = split /\n/, deb_control_file($flores_deb, 'conffiles');
my %is_conffile = map { $_ => 1 } @conffiles;
my @etc = sort grep { m{^/etc/} && $svc->{$_} =~ /^-/ } keys %$svc;
my @not_conffile = grep { !$is_conffile{$_} } @etc;
is_deeply(\@not_conffile, [], 'every file under /etc is a conffile (' . scalar(@etc) . ' files)');
ok($is_conffile{"/etc/flores/$_.env"}, "conffile /etc/flores/$_.env")
    for qw(auth product user order cart wishlist review contact);
like(deb_field($flores_deb, 'Depends'), qr/\bpostgresql-client\b/, 'services package needs psql (flores-migrate)');
my $postinst = deb_control_file($flores_deb, 'postinst');
like($postinst, qr/adduser --system/, 'postinst creates the system user');
like($postinst, qr/addgroup --system --quiet flores-gateway/, 'postinst creates the sockets\' group');
like($postinst, qr/flores-provision .*gateway-key/, 'postinst makes the gateway key');
like($postinst, qr/flores-keys --no-reload init/, 'postinst makes the first signing key');
unlike($postinst, qr/jwt\.key/, 'no shared HS256 secret any more');

# ---- stores on the host ----------------------------------------------------------------------

cleanup();
for my $store (qw(postgres redis rabbitmq mongo smtp)) {
    $r = flores('start', $store);
    is($r->{rc}, 0, "store $store started (port base $BASE)") or diag(tail_of($r->{out}));
}
# A database of their own, empty: flores-migrate makes every schema in it.
my ($psql) = sort { $b cmp $a } glob('/usr/lib/postgresql/*/bin/psql');
# The stack's PostgreSQL superuser password (./flores made it; scram-sha-256 on every TCP
# connection).
my $PGPW = "$STACK/secrets/pg/postgres.password";
ok(-s $PGPW, "the stores' superuser password: $PGPW") or BAIL_OUT('no PostgreSQL superuser password');
my %PGENV = (PGPASSWORD => do { my $p = slurp($PGPW); chomp $p; $p });
$r = run([$psql, '-X', '-q', '-h', '127.0.0.1', '-p', $BASE + 432, '-U', 'postgres', '-d', 'postgres',
          '-c', 'create database flores_pkg'], env => \%PGENV);
is($r->{rc}, 0, 'an empty database flores_pkg') or diag($r->{out});

# Every service's credentials in those stores, as an administrator does it (docs/install.md),
# from this host: it has the stores' admin access.
my $PROV = "$WORK/provisioned";
remove_tree($PROV);
# The stores' administrator is the stack's flores-admin in RabbitMQ and Redis (the default
# user is off there): flores-provision keeps that user's password instead of making one.
make_path("$PROV/admin", { mode => 0700 });
chmod 0700, $PROV;
for my $store (qw(rabbitmq redis)) {
    my $pw = slurp("$STACK/secrets/$store/flores-admin.password");
    chomp $pw;
    open my $fh, '>', "$PROV/admin/" . ($store eq 'redis' ? 'redis' : 'amqp') . '-password' or die $!;
    chmod 0600, $fh;
    print {$fh} $pw;
    close $fh;
}
my $ctl = join ' ', 'env', "HOME=$STACK/rabbitmq", "RABBITMQ_NODENAME=flores$BASE\@localhost",
    'ERL_EPMD_PORT=' . ($BASE + 369), 'RABBITMQ_CONF_ENV_FILE=/dev/null', '/usr/lib/rabbitmq/bin/rabbitmqctl';
$r = run(['bash', "$ROOT/deploy/flores-provision.in", '-s', $PROV, '-g', '',
          '--amqp', '127.0.0.1:' . ($BASE + 672), '--redis', '127.0.0.1:' . ($BASE + 379),
          '--pg-admin', 'host=127.0.0.1 port=' . ($BASE + 432) . ' user=postgres dbname=flores_pkg',
          '--pg-db', 'flores_pkg', '--rabbitmqctl', $ctl, '--redis-cli', 'redis-cli -p ' . ($BASE + 379), 'all'],
         env => \%PGENV, timeout => 120);
is($r->{rc}, 0, 'flores-provision all: roles, users, ACL users and their secret files') or diag($r->{out});
like($r->{out}, qr/role flores_order owns schema orders/, '  ... PostgreSQL role per service');
like($r->{out}, qr/guest deleted/, '  ... RabbitMQ without guest');
like($r->{out}, qr/redis: users flores-admin flores-cart flores-wishlist; default user off/,
     '  ... Redis ACL users (as the administrator flores-admin: the default user is off)');

# ---- the container ---------------------------------------------------------------------------

$r = run([$ENGINE, 'base'], timeout => 900);
is($r->{rc}, 0, 'base image local/flores-bookworm') or diag(tail_of($r->{out}));
engine(['rm', '-f', '-t', '0', $NAME], timeout => 60);
$r = engine(['run', '-d', '--name', $NAME, '--network', 'host',
             '-v', "$DEBS:/pkgs:ro", '-v', "$FindBin::Bin/data:/t:ro", '-v', "$PROV:/provisioned:ro",
             'local/flores-bookworm', 'sleep', 'infinity'], timeout => 120);
$container_started = 1;
is($r->{rc}, 0, "container $NAME (host network)") or diag($r->{out});

sub in_container { my ($args, %o) = @_; return engine(['exec', $NAME, 'bash', '/t/packages-in-container.sh', @$args], %o) }

$t0 = time;
$r = in_container(['install'], timeout => 900);
is($r->{rc}, 0, 'apt-get install of both packages in a clean bookworm') or diag(tail_of($r->{out}));
diag(sprintf 'apt-get install in the container: %d s', time - $t0);
like($r->{out}, qr/^libnginx-mod-http-flores \S+ installed$/m, 'module package installed');
like($r->{out}, qr/^nginx \S+ installed$/m, 'nginx pulled in from Debian');

$r = engine(['exec', $NAME, 'sh', '-c',
             'readlink /etc/nginx/modules-enabled/50-mod-http-flores.conf; id flores;'
             . ' stat -c "%n %a %U:%G" /etc/flores/secrets /etc/flores/secrets/gateway.key /etc/flores/nginx/gateway-key.conf'
             . ' /etc/flores/secrets/jwt /etc/flores/jwks.json /run/flores;'
             . ' echo "key $(cat /etc/flores/secrets/gateway.key)"; ls /etc/flores/secrets/jwt | sed "s/^/jwt-file /";'
             . ' grep -c "\"kty\": *\"EC\"" /etc/flores/jwks.json | sed "s/^/jwks-ec-keys /";'
             . ' grep -qx "include /etc/nginx/modules-enabled/\*.conf;" /etc/flores/nginx/nginx.conf && echo module-through-modules-enabled']);
like($r->{out}, qr{^/usr/share/nginx/modules-available/mod-http-flores\.conf$}m, 'module enabled in modules-enabled');
like($r->{out}, qr/uid=\d+\(flores\)/, 'system user flores');
like($r->{out}, qr{^/etc/flores/secrets 750 root:flores$}m, 'secrets: 0750 root:flores');
like($r->{out}, qr{^/etc/flores/secrets/gateway\.key 640 root:flores$}m, 'gateway key: 0640 root:flores');
like($r->{out}, qr/^key [0-9a-f]{64}$/m, '  ... 64 hex characters');
like($r->{out}, qr{^/etc/flores/nginx/gateway-key\.conf 600 root:root$}m, "nginx's gateway-key.conf: root only");
like($r->{out}, qr{^/etc/flores/secrets/jwt 750 root:flores$}m, 'signing keys: 0750 root:flores');
like($r->{out}, qr/^jwt-file \S+\.pem$/m, '  ... the first key');
like($r->{out}, qr{^/etc/flores/jwks\.json 644 root:root$}m, 'the public JWKS: 0644');
like($r->{out}, qr/^jwks-ec-keys [1-9]/m, '  ... with an EC key');
like($r->{out}, qr{^/run/flores 2750 flores:flores-gateway$}m, '/run/flores: 2750 flores:flores-gateway');
like($r->{out}, qr/^module-through-modules-enabled$/m, "the gateway's nginx.conf loads the module through modules-enabled");

my $b = $BASE;
$r = in_container(['configure',
                   '127.0.0.1:' . ($b + 432), 'flores_pkg',
                   'mongodb://127.0.0.1:' . ($b + 17) . '/flores',
                   'smtp://127.0.0.1:' . ($b + 25),
                   $b]);
is($r->{rc}, 0, '/etc/flores pointed at the stores; nginx -t with /etc/flores/nginx/nginx.conf') or diag($r->{out});

$r = in_container(['migrate'], timeout => 120);
is($r->{rc}, 0, 'flores-migrate as user flores') or diag($r->{out});
like($r->{out}, qr/auth: applied 001_init\.sql \(schema auth\)/, 'flores-migrate applied the auth schema');
$r = in_container(['migrate'], timeout => 120);
ok($r->{rc} == 0 && $r->{out} eq '', 'flores-migrate again: nothing to do') or diag($r->{out});
$r = run([$psql, '-X', '-tA', '-h', '127.0.0.1', '-p', $b + 432, '-U', 'postgres', '-d', 'flores_pkg', '-c',
          "select string_agg(table_schema || ':' || count || ':' || owner, ' ' order by table_schema) from (select schemaname as table_schema, count(*), min(tableowner) as owner from pg_tables where tablename = 'schema_migrations' group by schemaname) s"],
         env => \%PGENV);
is($r->{out}, "auth:1:flores_auth mail:1:flores_contact orders:1:flores_order reviews:1:flores_review users:1:flores_user\n",
   'schema_migrations in every service schema, each owned by its service\'s role');

$r = in_container(['start'], timeout => 60);
is($r->{rc}, 0, 'services started as their units say, and nginx') or diag($r->{out});
is(() = $r->{out} =~ /started as flores/g, 8, 'eight services, as user flores');

# ---- who may reach a service -------------------------------------------------------------------

sleep 1;
$r = in_container(['boundaries'], timeout => 60);
is($r->{rc}, 0, 'the boundary checks ran to the end') or diag($r->{out});
for my $svc (qw(auth product user order cart wishlist review contact)) {
    like($r->{out}, qr/^socket $svc\.sock: socket 660 flores-gateway$/m, "$svc listens on /run/flores/$svc.sock, 0660, group flores-gateway");
}
like($r->{out}, qr/^socket internal\.sock: socket/m, "the gateway's internal API passage: /run/flores/internal.sock");
like($r->{out}, qr/^www-data: not in flores-gateway$/m, 'www-data itself is not in the group (other www-data programs stay out)');
like($r->{out}, qr/^nginx-process: www-data flores-gateway$/m, "nginx's workers: www-data, group flores-gateway");
like($r->{out}, qr/^as-nobody: .*(ermission denied|connect)/mi, 'nobody cannot open a service\'s socket');
like($r->{out}, qr/^without-key: Status: 403/m, 'a request without the gateway key: 403');
like($r->{out}, qr/^with-key: Status: 200/m, 'with the key: 200');

# ---- through nginx ---------------------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8;
my $health;
for (1 .. 60) {
    $health = $http->get("$HTTP/health");
    last if $health->{status} == 200;
    sleep 1;
}
is($health->{status}, 200, "GET $HTTP/health: 200 (every service up)") or diag($health->{content});

my $products;
for (1 .. 20) {
    $products = $http->get("$HTTP/api/products?limit=5");
    last if $products->{status} == 200 && ($json->decode($products->{content})->{data}{pagination}{total} // 0) > 0;
    sleep 1;
}
is($products->{status}, 200, 'GET /api/products through nginx: 200') or diag($products->{content});
my $list = eval { $json->decode($products->{content}) } // {};
cmp_ok($list->{data}{pagination}{total} // 0, '>', 0, 'the catalogue has the seeded products');
my $first = $list->{data}{products}[0]{id};
ok(defined $first, 'a product id');
my $one = $http->get("$HTTP/api/products/" . ($first // 'none'));
is($one->{status}, 200, "GET /api/products/$first");

my $page = $http->get("$HTTP/");
is($page->{status}, 200, 'GET / through nginx: the storefront (/usr/share/flores/web)');
like($page->{headers}{'content-type'} // '', qr{^text/html}, 'the storefront page is HTML');

my $email = "pkg-$$-" . time . '@example.com';
my $reg = $http->post("$HTTP/api/auth/register", {
    headers => { 'Content-Type' => 'application/json' },
    content => $json->encode({ name => 'Paquete Prueba', email => $email, password => 'paquete-secreto-1' }) });
is($reg->{status}, 201, 'POST /api/auth/register: 201') or diag($reg->{content});
my $login = $http->post("$HTTP/api/auth/login", {
    headers => { 'Content-Type' => 'application/json' },
    content => $json->encode({ email => $email, password => 'paquete-secreto-1' }) });
is($login->{status}, 200, 'POST /api/auth/login: 200') or diag($login->{content});
my $token = eval { $json->decode($login->{content})->{data}{token} };
ok($token, 'login gave an access token');
my $me;
for (1 .. 10) {
    $me = $http->get("$HTTP/api/users/me", { headers => { Authorization => "Bearer " . ($token // '') } });
    last if $me->{status} == 200;
    sleep 1;
}
is($me->{status}, 200, 'GET /api/users/me with the token (ES256, nginx verified it with /etc/flores/jwks.json)')
    or diag($me->{content});
like($me->{content} // '', qr/\Q$email\E/, 'the profile is the new user');

if (!Test::More->builder->is_passing) {
    $r = engine(['exec', $NAME, 'sh', '-c', 'tail -n 20 /var/log/flores-services/*.log /var/log/nginx/*.log']);
    diag(tail_of($r->{out}, 8000));
}

cleanup();
remove_tree($WORK) if Test::More->builder->is_passing;
done_testing();
