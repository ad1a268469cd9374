#!/usr/bin/perl
# 15-local-attacker.t: what a local attacker cannot do to the stack.  Two attackers:
#   - an unprivileged local user: each of its steps runs as nobody (setpriv), the user an
#     attacker gets on a shared machine;
#   - a service whose credentials leaked (review for PostgreSQL and RabbitMQ, cart for Redis):
#     its own credentials, read from the stack's files as the service reads them.
# Each block is one attack that must fail, and, where it helps to tell a refusal from a broken
# probe, the same probe with the right credentials that must succeed.  The targets are found
# the way the stack publishes them (sockets in FLORES_SOCK_DIR, ports from FLORES_PORT_BASE
# when a stack has no sockets), so the file also runs against an older stack, where every
# attack succeeds and every block fails.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::AMQP qw(amqp_try amqp_url);
use JSON::PP ();
use Test::More;

plan skip_all => 'needs root (the attacker steps switch to user nobody)' if $> != 0;
plan skip_all => 'setpriv is missing' if run_cmd(['setpriv', '--version'], timeout => 5)->{rc} != 0;

my $STACK = $ENV{FLORES_STACK_DIR} or BAIL_OUT('FLORES_STACK_DIR is not set');
my $BASE  = $ENV{FLORES_PORT_BASE};
my %OFFSET = (auth => 101, product => 102, user => 103, order => 104, cart => 105,
              wishlist => 106, review => 107, contact => 108);
my @SERVICES = grep { -f "$STACK/services/$_.env" } sort keys %OFFSET;
my $LIB = "$FindBin::Bin/../lib";

# A step of the unprivileged user.
sub as_nobody {
    my ($argv, %o) = @_;
    return run_cmd(['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', @$argv],
        timeout => 20, %o);
}

# Where a service listens: its socket, or 127.0.0.1:<port> on a stack without sockets.
sub target {
    my $svc = shift;
    my $sock = $ENV{FLORES_SOCK_DIR} ? "$ENV{FLORES_SOCK_DIR}/$svc.sock" : '';
    return -S $sock ? $sock : '127.0.0.1:' . ($BASE + $OFFSET{$svc});
}

# A service's settings as the stack gives them to it (rendered env file).
sub service_env {
    my $svc = shift;
    my %env;
    open my $fh, '<', "$STACK/services/$svc.env" or return {};
    while (<$fh>) {
        $env{$1} = $2 if /^([A-Z_][A-Z0-9_]*)=(.*)$/;
    }
    return \%env;
}

sub first_line {
    my $file = shift or return undef;
    open my $fh, '<', $file or return undef;
    chomp(my $l = <$fh> // '');
    return $l;
}

# amqp_try(%o) run as nobody (a login from another local account).
sub amqp_as_nobody {
    my %o = @_;
    my $r = as_nobody(['perl', "-I$LIB", '-MFlores::AMQP=amqp_try', '-MJSON::PP', '-e',
        'print JSON::PP->new->encode(amqp_try(%{ JSON::PP->new->decode(shift) }))',
        JSON::PP->new->encode(\%o)]);
    return eval { JSON::PP->new->decode($r->{out}) } // { login => "probe failed: $r->{text}" };
}

my ($AMQP_USER, $AMQP_PASS, $AMQP_HOST, $AMQP_PORT) = amqp_url($ENV{FLORES_AMQP_URL});
my ($PG_PORT) = ($ENV{FLORES_PG_URL} // '') =~ m{:(\d+)/};
my ($REDIS_PORT) = ($ENV{FLORES_REDIS_URL} // '') =~ m{:(\d+)/};

run_blocks([
    {
        # Protects: the services trust the FastCGI parameters nginx sets (identity, role
        # "service"); whoever can open their socket can claim to be anyone.
        name => 'nobody cannot send a FastCGI request to any service',
        then => sub {
            ok(scalar @SERVICES, 'the stack has services');
            for my $svc (@SERVICES) {
                my $r = as_nobody(['cgi-fcgi', '-bind', '-connect', target($svc)], env => {
                    REQUEST_METHOD => 'GET', REQUEST_URI => '/health', DOCUMENT_URI => '/health',
                    SCRIPT_NAME => '/health', QUERY_STRING => '', FLORES_USER_ROLE => 'admin',
                    FLORES_USER_ID => '1', FLORES_INTERNAL => '1' });
                unlike($r->{out}, qr/\S/, "$svc: no answer to nobody (" . target($svc) . ')');
            }
        },
    },
    {
        # Protects: the internal passage makes the caller role "service"; it is for the
        # services only.
        name => 'nobody cannot use the internal passage or reset a breaker',
        then => sub {
            my $path = '/internal/product/api/products/AML001';
            if ($ENV{FLORES_INTERNAL_SOCKET}) {
                my $r = as_nobody(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
                    '--unix-socket', $ENV{FLORES_INTERNAL_SOCKET}, "http://localhost$path"]);
                is($r->{out}, '000', 'the internal socket: no connection');
            }
            my $r = as_nobody(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
                "$ENV{FLORES_INTERNAL_URL}$path"]);
            unlike($r->{out}, qr/^2/, "the TCP internal listener has no passage ($r->{out})");
            $r = as_nobody(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
                '-X', 'POST', "$ENV{FLORES_INTERNAL_URL}/breakers?reset=auth"]);
            unlike($r->{out}, qr/^2/, "POST /breakers on the TCP listener is refused ($r->{out})");
        },
    },
    {
        # Protects: the passwords, the gateway key and the connection facts of the stack.
        name => 'nobody cannot read the stack\'s secrets, mails or stores\' files',
        then => sub {
            my @files = ("$STACK/stack.env", glob("$STACK/services/*.env"),
                "$STACK/nginx/conf/gateway-key.conf", "$STACK/redis/users.acl");
            my @dirs = ("$STACK/secrets");
            while (my $d = shift @dirs) {
                for my $f (glob "$d/*") {
                    if (-d $f) { push @dirs, $f } else { push @files, $f }
                }
            }
            @files = grep { -f } @files;
            cmp_ok(scalar @files, '>=', 5, 'secret files found: ' . scalar @files);
            for my $f (@files) {
                my $r = as_nobody(['cat', $f]);
                isnt($r->{rc}, 0, "$f: not readable");
            }
            # The mails (password-reset links), the carts and wishlists, the broker's store.
            for my $d (grep { -d } $ENV{FLORES_MAIL_DIR}, "$STACK/redis", "$STACK/rabbitmq") {
                my $r = as_nobody(['ls', $d]);
                isnt($r->{rc}, 0, "$d: not listable");
            }
        },
    },
    {
        # Protects: the broker's default account and guessable ones.
        name => 'the broker lets in neither guest nor a guess',
        then => sub {
            is(amqp_try(host => $AMQP_HOST, port => $AMQP_PORT, user => $AMQP_USER,
                password => $AMQP_PASS)->{login}, 'ok', "the probe logs in as $AMQP_USER");
            for my $guess ([guest => 'guest'], [flores => 'flores'], [admin => 'admin'],
                           ['flores-admin' => 'flores-admin'], ['flores-admin' => ''],
                           ['flores-review' => 'flores-review']) {
                my $r = amqp_as_nobody(host => $AMQP_HOST, port => $AMQP_PORT, user => $guess->[0],
                    password => $guess->[1]);
                like($r->{login}, qr/^refused/, "$guess->[0]/$guess->[1]: $r->{login}");
            }
        },
    },
    {
        # Protects: auth applies user.role_changed (admin rights, deactivation) from the user
        # service; another service's credentials must not be able to send one, nor put
        # anything into another service's queue through the default exchange.
        name => 'review\'s broker credentials cannot forge user.role_changed',
        then => sub {
            my $env = service_env('review');
            my ($user, $pass, $host, $port) = amqp_url($env->{FLORES_AMQP_URL});
            $pass = first_line($env->{FLORES_AMQP_PASSWORD_FILE}) if $env->{FLORES_AMQP_PASSWORD_FILE};
            my $r = amqp_try(host => $host, port => $port, user => $user, password => $pass);
            is($r->{login}, 'ok', "review logs in as $user");
            my $forged = '{"id":"' . join('-', map { random_hex($_) } 4, 2, 2, 2, 6)
                . '","type":"user.role_changed","data":{"userId":1,"role":"admin","active":true}}';
            $r = amqp_try(host => $host, port => $port, user => $user, password => $pass,
                publish => { exchange => 'flores.events', routing_key => 'user.role_changed', body => $forged });
            like($r->{publish} // '', qr/^refused: 403 ACCESS_REFUSED/, "user.role_changed: $r->{publish}");
            $r = amqp_try(host => $host, port => $port, user => $user, password => $pass,
                publish => { exchange => '', routing_key => 'auth.roles', body => $forged });
            like($r->{publish} // '', qr/^refused: 403 ACCESS_REFUSED/, "straight into auth.roles: $r->{publish}");
            $r = amqp_try(host => $host, port => $port, user => $user, password => $pass,
                publish => { exchange => 'flores.events', routing_key => 'user.role_change_requested', body => $forged });
            like($r->{publish} // '', qr/^refused: 403 ACCESS_REFUSED/, "user.role_change_requested: $r->{publish}");
            # The cart has no broker account at all: its own secret (Redis) opens nothing there.
            my $cart = service_env('cart');
            ok(!$cart->{FLORES_AMQP_URL} && !$cart->{FLORES_AMQP_PASSWORD_FILE}, 'the cart has no broker credentials');
            my $cart_pass = first_line($cart->{FLORES_REDIS_PASSWORD_FILE} // '/dev/null') // '';
            $r = amqp_try(host => $host, port => $port, user => 'flores-cart', password => $cart_pass,
                publish => { exchange => 'flores.events', routing_key => 'user.role_changed', body => $forged });
            like($r->{login}, qr/^refused/, "flores-cart cannot log in to the broker: $r->{login}");
            # The same publish path works for what is allowed (the administrator, a key nobody binds).
            $r = amqp_try(host => $AMQP_HOST, port => $AMQP_PORT, user => $AMQP_USER, password => $AMQP_PASS,
                publish => { exchange => 'flores.events', routing_key => 'itest.nothing', body => '{}' });
            is($r->{publish}, 'confirmed', 'the administrator\'s publish is confirmed');
        },
    },
    {
        # Protects: the accounts (password hashes, roles) from every other service and from
        # anyone without a password.
        name => 'PostgreSQL: no password, no entry; review\'s role cannot read auth.users',
        then => sub {
            for my $who (['postgres', undef], ['postgres', 'postgres'], ['flores', undef]) {
                my $r = as_nobody(['psql', "postgresql://$who->[0]\@127.0.0.1:$PG_PORT/flores", '-XAtc', 'select 1'],
                    env => { PGPASSFILE => '/dev/null', PGPASSWORD => $who->[1] // '', PGCONNECT_TIMEOUT => 5 });
                isnt($r->{out}, "1\n", "nobody as $who->[0] (password " . ($who->[1] // 'none') . '): refused');
            }
            my $env = service_env('review');
            my %pgenv = (PGPASSFILE => '/dev/null', PGCONNECT_TIMEOUT => 5);
            $pgenv{PGPASSWORD} = first_line($env->{FLORES_PG_PASSWORD_FILE}) if $env->{FLORES_PG_PASSWORD_FILE};
            my $r = run_cmd(['psql', $env->{FLORES_PG_URL}, '-XAtc', 'select count(*) >= 0 from reviews.reviews'],
                env => \%pgenv);
            is($r->{out}, "t\n", 'review reads its own schema');
            $r = run_cmd(['psql', $env->{FLORES_PG_URL}, '-XAtc', 'select count(*) from auth.users'], env => \%pgenv);
            like($r->{err}, qr/permission denied/, 'review cannot read auth.users');
            $r = run_cmd(['psql', $env->{FLORES_PG_URL}, '-XAtc', 'create schema itest_intruder'], env => \%pgenv);
            like($r->{err}, qr/permission denied/, 'review cannot create a schema');
        },
    },
    {
        # Protects: the carts and wishlists from anyone without a password, and each from the
        # other service.
        name => 'Redis: the default user can do nothing; flores-cart cannot touch wishlists',
        then => sub {
            my $r = as_nobody(['redis-cli', '-h', '127.0.0.1', '-p', $REDIS_PORT, 'ping']);
            chomp $r->{out};
            unlike($r->{out}, qr/PONG/, "default user, PING: $r->{out}");
            $r = as_nobody(['redis-cli', '-h', '127.0.0.1', '-p', $REDIS_PORT, 'get', 'cart:1']);
            like($r->{out}, qr/NOAUTH|NOPERM/, 'default user, GET: refused');

            my $env = service_env('cart');
            my ($user) = ($env->{FLORES_REDIS_URL} // '') =~ m{^redis://([^:@/]+)(?::[^@/]*)?@};
            my $pass = first_line($env->{FLORES_REDIS_PASSWORD_FILE});
            my @cli = ('redis-cli', '--no-auth-warning', (defined $user ? ('--user', $user) : ()),
                '-h', '127.0.0.1', '-p', $REDIS_PORT);
            my %auth = (REDISCLI_AUTH => $pass // '');
            $r = run_cmd([@cli, 'hgetall', 'cart:1'], env => \%auth);
            unlike($r->{out}, qr/NOPERM|NOAUTH|WRONGPASS/, 'cart reads a cart');
            $r = run_cmd([@cli, 'hgetall', 'wishlist:1'], env => \%auth);
            chomp $r->{out};
            like($r->{out}, qr/NOPERM/, "cart reads a wishlist: $r->{out}");
            $r = run_cmd([@cli, 'eval', "return redis.call('ZRANGE', KEYS[1], 0, -1)", '1', 'wishlist:1'], env => \%auth);
            like($r->{out}, qr/NOPERM/, 'cart reads a wishlist from a script: refused');
            $r = run_cmd([@cli, 'keys', '*'], env => \%auth);
            like($r->{out}, qr/NOPERM/, 'cart lists every key: refused');
            $r = run_cmd([@cli, 'config', 'get', 'dir'], env => \%auth);
            like($r->{out}, qr/NOPERM/, 'cart reads the server configuration: refused');
        },
    },
]);

finish();
