#!/usr/bin/perl
# 10-systemd.t: the systemd units that make install puts in place.  The tree is configured
# with every path under a temporary root (prefix, sysconfdir, localstatedir, unit directory;
# the nginx module is not needed here), built and installed with make install, so the programs
# the units name exist where the units say.  Then, for each unit (flores.target,
# flores-migrate.service, flores-<service>.service for the eight services):
#   - `systemd-analyze verify` passes and prints nothing (systemd only warns about an unknown
#     key or a bad value: any output is a failure);
#   - every service runs as the unprivileged user flores with the hardening the deployment
#     relies on, restarts on failure, stops with SIGTERM within a bounded time, and is ordered
#     after the stores it uses;
#   - each service listens on its unix socket in /run/flores (0660, the directory made by the
#     installed tmpfiles.d file 2750 flores:flores-gateway), may write there and nowhere else,
#     demands the gateway key, and sees of the secrets only its own and the gateway key (auth:
#     the signing keys too); nginx's workers run in group flores-gateway, the upstreams are
#     the sockets; the installed settings carry no password (secret files instead);
#   - `systemd-analyze security --offline=true` scores it (printed as diagnostics) at most
#     MAX_EXPOSURE ("OK" in systemd's words).
# Temporary files only (run/t-systemd, removed at the end); nothing is started.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Run qw(slurp);
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use Test::More;

# stdout and stderr together, in order (Flores::Run)
sub run { my ($argv, %o) = @_; return Flores::Run::run($argv, %o, merge => 1) }

my $ROOT = abs_path("$FindBin::Bin/../..");
my $WORK = "$ROOT/run/t-systemd";
my $MAX_EXPOSURE = 2.5;
my @SERVICES = qw(auth product user order cart wishlist review contact);
$ENV{LC_ALL} = 'C';

ok(-x '/usr/bin/systemd-analyze', 'systemd-analyze is installed')
    or BAIL_OUT('systemd-analyze is missing (apt-get install systemd)');

# ---- build and install under a temporary root ------------------------------------------------

remove_tree($WORK);
make_path("$WORK/build");
my $root = "$WORK/root";

# configure is made from configure.ac by autoreconf, one build at a time in this tree.
my $r = run(['flock', '-w', '1800', "$ROOT/run/.build.lock", 'sh', '-c',
             'test -x configure || autoreconf -fi'], cwd => $ROOT, timeout => 1900);
is($r->{rc}, 0, 'configure is there') or diag($r->{out});

$r = run(["$ROOT/configure", "--prefix=$root/usr", "--sysconfdir=$root/etc",
          "--localstatedir=$root/var", "--with-systemdsystemunitdir=$root/lib/systemd/system",
          '--disable-nginx-module'], cwd => "$WORK/build", timeout => 300);
is($r->{rc}, 0, 'configure with every path under a temporary root') or diag($r->{out});
$r = run(['make', '-j2', '--no-print-directory'], cwd => "$WORK/build", timeout => 900);
is($r->{rc}, 0, 'make') or diag(substr($r->{out}, -3000));
$r = run(['make', 'install', '--no-print-directory'], cwd => "$WORK/build", timeout => 300);
is($r->{rc}, 0, 'make install') or diag(substr($r->{out}, -3000));

my $unitdir = "$root/lib/systemd/system";
my @units = ('flores.target', 'flores-migrate.service', map { "flores-$_.service" } @SERVICES);
for my $u (@units) {
    ok(-f "$unitdir/$u", "installed: $u");
}
my @extra = grep { my $f = $_; !grep { $_ eq $f } @units }
            map { s{.*/}{}r } glob("$unitdir/*");
is_deeply(\@extra, [], 'no other unit is installed');

# ---- verify: silent, and the programs named are there ----------------------------------------

for my $u (@units) {
    my $text = slurp("$unitdir/$u");
    while ($text =~ /^Exec\w+=[-@:+!]*(\S+)/mg) {
        my $prog = $1;
        like($prog, qr{^\Q$root\E/usr/sbin/flores-[a-z]+$}, "$u: runs a program of this install");
        ok(-x $prog, "$u: $prog is executable");
    }
    while ($text =~ /^EnvironmentFile=-?(\S+)/mg) {
        ok(-f $1, "$u: its settings file $1 is installed");
    }
    $r = run(['systemd-analyze', 'verify', "$unitdir/$u"], cwd => $unitdir);
    ok($r->{rc} == 0 && $r->{out} eq '', "$u: systemd-analyze verify is silent")
        or diag("exit $r->{rc}:\n$r->{out}");
}
# All together too: the target's dependencies resolve to the installed units.
$r = run(['systemd-analyze', 'verify', map { "$unitdir/$_" } @units], cwd => $unitdir);
ok($r->{rc} == 0 && $r->{out} eq '', 'all units verified together: silent')
    or diag("exit $r->{rc}:\n$r->{out}");

# ---- what each service unit promises ---------------------------------------------------------

my %stores = (
    auth     => [qw(postgresql.service rabbitmq-server.service flores-migrate.service)],
    user     => [qw(postgresql.service rabbitmq-server.service flores-migrate.service)],
    order    => [qw(postgresql.service rabbitmq-server.service flores-migrate.service)],
    review   => [qw(postgresql.service rabbitmq-server.service flores-migrate.service)],
    contact  => [qw(postgresql.service rabbitmq-server.service flores-migrate.service)],
    product  => [qw(mongod.service rabbitmq-server.service)],
    cart     => [qw(redis-server.service)],
    wishlist => [qw(redis-server.service)],
);
my @hardening = (
    'User=flores', 'Group=flores', 'NoNewPrivileges=yes', 'ProtectSystem=strict',
    'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=',
    'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectControlGroups=yes',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'SystemCallFilter=@system-service',
    'RestrictSUIDSGID=yes', 'LockPersonality=yes', 'MemoryDenyWriteExecute=yes',
);
for my $svc (@SERVICES) {
    my $u = "flores-$svc.service";
    my $text = slurp("$unitdir/$u");
    my @missing = grep { $text !~ /^\Q$_\E$/m } @hardening,
        'Restart=on-failure', 'KillSignal=SIGTERM', "EnvironmentFile=$root/etc/flores/$svc.env",
        "ExecStart=$root/usr/sbin/flores-$svc", 'WantedBy=flores.target', 'PartOf=flores.target';
    is_deeply(\@missing, [], "$u: unprivileged, hardened, restarted, stopped by SIGTERM");
    like($text, qr/^TimeoutStopSec=\d+s?$/m, "$u: bounded stop time");
    my ($after) = $text =~ /^After=(.*)$/m;
    my @not_after = grep { " $after " !~ / \Q$_\E / } @{$stores{$svc}}, 'network-online.target';
    is_deeply(\@not_after, [], "$u: started after " . join(', ', @{$stores{$svc}}));
}
like(slurp("$unitdir/flores.target"),
     qr/^Wants=flores-migrate\.service( flores-[a-z]+\.service){8}$/m,
     'flores.target wants the migrations and the eight services');

# ---- sockets, gateway key, secrets -----------------------------------------------------------

my $tmpfiles = "$root/usr/lib/tmpfiles.d/flores.conf";
ok(-f $tmpfiles, 'tmpfiles.d/flores.conf is installed');
like(slurp($tmpfiles), qr{^d /run/flores 2750 flores flores-gateway -$}m,
     'tmpfiles.d: /run/flores 2750 flores:flores-gateway (setgid: sockets get the group)');
my $secrets = "$root/etc/flores/secrets";
my %uses = (
    pg    => [qw(auth user order review contact)],
    amqp  => [qw(auth product user order review contact)],
    redis => [qw(cart wishlist)],
);
for my $svc (@SERVICES) {
    my $u = "flores-$svc.service";
    my $text = slurp("$unitdir/$u");
    my @want = ('ReadWritePaths=/run/flores', "TemporaryFileSystem=$secrets:ro",
                "BindReadOnlyPaths=$secrets/gateway.key");
    my @missing = grep { $text !~ /^\Q$_\E$/m } @want;
    is_deeply(\@missing, [], "$u: writes only /run/flores; secrets hidden but the gateway key");
    my @binds = $text =~ /^BindReadOnlyPaths=-?(\S.*)$/mg;
    my @seen = sort map { split ' ' } @binds;
    my @expect = sort("$secrets/gateway.key", "$secrets/$svc", $svc eq 'auth' ? "$secrets/jwt" : ());
    is_deeply([map { s/^-//r } @seen], \@expect, "$u: sees its own secrets only");

    my $env = slurp("$root/etc/flores/$svc.env");
    my %set = $env =~ /^([A-Z_][A-Z0-9_]*)=(.*)$/mg;
    is($set{FLORES_LISTEN}, "/run/flores/$svc.sock", "$svc.env: FLORES_LISTEN is its socket");
    is($set{FLORES_LISTEN_MODE}, '0660', "$svc.env: socket mode 0660");
    is($set{FLORES_GATEWAY_KEY_FILE}, "$secrets/gateway.key", "$svc.env: the gateway key is required");
    ok(!exists $set{FLORES_LISTEN_GROUP},
       "$svc.env: no FLORES_LISTEN_GROUP (the socket keeps the group flores-gateway of /run/flores)");
    my @unseen = grep { /_FILE$/ && index($set{$_}, "$secrets/") == 0
                        && $set{$_} !~ m{^\Q$secrets\E/(?:gateway\.key|\Q$svc\E/[^/]+)$} } sort keys %set;
    is_deeply(\@unseen, [], "$svc.env: every secret file it names is one the unit shows it");
    unlike($env, qr{^FLORES_[A-Z_]*URL=[a-z]+://[^/\s]*:[^/\s]*@}m, "$svc.env: no password in a URL");
    ok(!exists $set{FLORES_AMQP_URL} && !exists $set{FLORES_REDIS_URL},
       "$svc.env: broker and Redis URLs come from secret files");
    if (grep { $_ eq $svc } @{$uses{pg}}) {
        like($set{FLORES_PG_URL} // '', qr{^postgresql://flores_$svc@}, "$svc.env: its own PostgreSQL role");
        is($set{FLORES_PG_PASSWORD_FILE}, "$secrets/$svc/pg-password", "$svc.env: its password file");
    }
    if (grep { $_ eq $svc } @{$uses{amqp}}) {
        is($set{FLORES_AMQP_URL_FILE}, "$secrets/$svc/amqp-url", "$svc.env: its RabbitMQ user's URL file");
    }
    if (grep { $_ eq $svc } @{$uses{redis}}) {
        is($set{FLORES_REDIS_URL_FILE}, "$secrets/$svc/redis-url", "$svc.env: its Redis user's URL file");
    }
    if (exists $set{FLORES_INTERNAL_URL}) {
        is($set{FLORES_INTERNAL_SOCKET}, '/run/flores/internal.sock',
           "$svc.env: the internal API passage over the gateway's unix socket");
    }
}
my $auth = slurp("$root/etc/flores/auth.env");
like($auth, qr{^FLORES_JWT_ALG=ES256$}m, 'auth.env: ES256 tokens');
like($auth, qr{^FLORES_JWT_KEYS_DIR=\Q$secrets\E/jwt$}m, 'auth.env: private keys under the secrets');
like($auth, qr{^FLORES_JWT_JWKS_FILE=\Q$root\E/etc/flores/jwks\.json$}m, 'auth.env: the public JWKS');
unlike(slurp("$unitdir/flores-migrate.service"), qr{^BindReadOnlyPaths=}m,
       'flores-migrate.service: reads every service\'s password file');
like(slurp("$unitdir/flores-migrate.service"), qr{^InaccessiblePaths=-\Q$secrets\E/jwt$}m,
     'flores-migrate.service: never the signing keys');

my $nginx = "$root/etc/flores/nginx";
like(slurp("$nginx/nginx.conf"), qr{^user www-data flores-gateway;$}m,
     'nginx.conf: workers in group flores-gateway (the sockets), not flores (the secrets)');
my $up = slurp("$nginx/upstreams.conf");
for my $svc (@SERVICES) {
    like($up, qr{^upstream flores_$svc\s*\{ server unix:/run/flores/$svc\.sock; \}$}m,
         "upstreams.conf: flores_$svc is its socket");
}
unlike($up, qr{server 127\.0\.0\.1:}, 'upstreams.conf: no TCP port of a service');
ok(!-e "$nginx/gateway-key.conf", 'the gateway key is made on the machine, never installed');
for my $tool (qw(flores-provision flores-keys)) {
    ok(-x "$root/usr/sbin/$tool", "$tool is installed");
    like(slurp("$root/usr/sbin/$tool"), qr{^DEFAULT_CONF_DIR=\Q$root\E/etc/flores$}m,
         "$tool: the configured directory");
}

# ---- systemd-analyze security ----------------------------------------------------------------

for my $u (grep { /\.service$/ } @units) {
    $r = run(['systemd-analyze', 'security', '--offline=true', '--no-pager', "$unitdir/$u"],
             cwd => $unitdir);
    my ($score, $word) = $r->{out} =~ /Overall exposure level for \S+: ([0-9.]+) (\S+)/;
    if (defined $score) {
        diag(sprintf '%-24s exposure %s %s', $u, $score, $word);
        ok($score <= $MAX_EXPOSURE, "$u: exposure $score <= $MAX_EXPOSURE");
    } else {
        fail("$u: systemd-analyze security gave a score");
        diag($r->{out});
    }
}

remove_tree($WORK) if Test::More->builder->is_passing;
done_testing();
