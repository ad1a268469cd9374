#!/usr/bin/perl
# 15-service-boundary.t: what a service believes of the FastCGI parameters it is handed, spoken
# to directly in FastCGI (cgi-fcgi), as anyone who reaches its socket could: identity
# parameters that name nobody are refused 401 before any handler; with a gateway key
# configured, a request without that key is refused 403, /health and /metrics included; the
# unix socket gets its configured mode, is never taken from a live process, and is removed at
# exit.  One cart service is started by this file on a socket of its own (its Redis is
# unreachable on purpose: a 503 shows a request got past identity to the handler); the stack's
# own services are checked for the 401 on whatever they listen on.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use JSON::PP;

my $CART = "$ENV{FLORES_BIN_DIR}/fcgi-services/cart/flores-cart";
my ($CGI_FCGI) = grep { -x } map { "$_/cgi-fcgi" } split /:/, $ENV{PATH};
plan skip_all => 'cgi-fcgi (libfcgi-bin) is not installed' unless $CGI_FCGI;

my $JSON = JSON::PP->new->allow_nonref;
my $DIR  = tempdir('flores-boundary-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $SOCK = "$DIR/cart.sock";
my $KEYF = "$DIR/gateway.key";
my $LOG  = "$DIR/cart.log";
my $KEY  = random_hex(32);                  # 64 hex characters, as the stack makes it

open my $kfh, '>', $KEYF or die "$KEYF: $!";
print {$kfh} "$KEY\n";
close $kfh;
chmod 0600, $KEYF;

# The service's whole environment: nothing inherited from the stack's.
my %SVC_ENV = (
    FLORES_LISTEN           => $SOCK,
    FLORES_LISTEN_MODE      => '0600',
    FLORES_GATEWAY_KEY_FILE => $KEYF,
    FLORES_REDIS_URL        => 'redis://127.0.0.1:1/0',
    FLORES_WORKERS          => 2,
    FLORES_LOG_LEVEL        => 'info',
);

sub clean_env {
    my %env = @_;
    my @keep = grep { defined $ENV{$_} } qw(PATH ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS);
    return ((map { $_ => $ENV{$_} } @keep), %env);
}

# One FastCGI request: the parameters exactly as given (env -i), no body.
sub fcgi {
    my ($target, %params) = @_;
    my %p = (REQUEST_METHOD => 'GET', %params);
    my $r = run_cmd(['env', '-i', (map { "$_=$p{$_}" } grep { defined $p{$_} } sort keys %p),
                     $CGI_FCGI, '-bind', '-connect', $target], timeout => 20);
    my ($head, $body) = split /\r?\n\r?\n/, $r->{out}, 2;
    my ($status) = ($head // '') =~ /^Status:\s*(\d+)/m;
    my $json = eval { $JSON->decode($body // '') };
    return { status => $status // 0, json => $json, body => $body // '', raw => $r->{text} };
}

# The service run to its end, for starts that must fail.
sub run_cart {
    my %env = clean_env(%SVC_ENV, @_);
    return run_cmd(['env', '-i', (map { "$_=$env{$_}" } sort keys %env), $CART], timeout => 20);
}

my $PID;

sub start_cart {
    unlink $LOG;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>>', $LOG or exit 127;
        open STDERR, '>>', $LOG or exit 127;
        %ENV = clean_env(%SVC_ENV);
        exec $CART or exit 127;
    }
    # Up when the socket answers (a refused request is an answer).
    for (1 .. 100) {
        last if -S $SOCK && fcgi($SOCK, DOCUMENT_URI => '/health')->{status};
        return undef if waitpid($pid, WNOHANG) == $pid;
        select undef, undef, undef, 0.1;
    }
    return $PID = $pid;
}

sub stop_cart {
    return 0 unless $PID;
    kill 'TERM', $PID;
    for (1 .. 100) {
        if (waitpid($PID, WNOHANG) == $PID) {
            my $rc = $?;
            undef $PID;
            return $rc;
        }
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $PID;
    waitpid $PID, 0;
    undef $PID;
    return -1;
}

cleanup(sub { stop_cart() });

sub log_text { open my $fh, '<', $LOG or return ''; local $/; return scalar <$fh> }

sub refused_ok {
    my ($res, $status, $code, $what) = @_;
    is($res->{status}, $status, "$what: $status") or diag($res->{raw});
    is(($res->{json} || {})->{status}, 'fail', "$what: a fail envelope");
    is(($res->{json} || {})->{code}, $code, "$what: $code");
    like(($res->{json} || {})->{requestId} // '', qr/^[A-Za-z0-9._-]+$/, "$what: with its requestId");
}

# Identities that name nobody: [id, role, internal].
my @MALFORMED = (
    ['-1', 'customer'], ['0', 'customer'], ['0', 'admin'], ['abc', 'customer'],
    ['1e3', 'customer'], [' 7', 'customer'], ['7 ', 'customer'], ['+7', 'customer'],
    ['007', 'customer'], ['9007199254740993', 'customer'], ['99999999999999999999', 'admin'],
    ['7', undef], ['7', ''], [undef, 'customer'], ['', 'admin'], ['7', 'superuser'],
    ['7', 'Admin'], ['', 'service', ''], ['9', 'service', ''], ['9', 'service', '1'],
);

sub identity {
    my ($id, $role, $internal) = @_;
    return (FLORES_USER_ID => $id, FLORES_USER_ROLE => $role, FLORES_INTERNAL => $internal);
}

sub show { return join ' ', map { defined $_ ? "'$_'" : 'absent' } @_ }

run_blocks([
    {
        name => 'the cart service and cgi-fcgi are at hand',
        then => sub { ok(-x $CART, "$CART is executable") or BAIL_OUT("no $CART") },
    },
    {
        # Protects: the socket's rights are the configured ones from the start, not the umask's.
        name => 'the service listens on a unix socket with FLORES_LISTEN_MODE',
        then => sub {
            ok(start_cart(), 'started') or diag(log_text());
            ok(-S $SOCK, 'the socket exists');
            is(sprintf('%04o', (stat $SOCK)[2] & 07777), '0600', 'mode 0600');
        },
    },
    {
        # Protects: without the gateway's key nothing is answered but 403, not even health,
        # metrics or a 404 that would map the routes.
        name => 'no gateway key: 403 on every path',
        then => sub {
            for my $p (['GET', '/health'], ['GET', '/metrics'], ['GET', '/api/cart'],
                       ['GET', '/api/nowhere'], ['DELETE', '/api/cart'])
            {
                my $res = fcgi($SOCK, REQUEST_METHOD => $p->[0], DOCUMENT_URI => $p->[1],
                               identity('7', 'customer'));
                refused_ok($res, 403, 'FORBIDDEN', "@$p");
            }
        },
    },
    {
        name => 'a wrong gateway key: 403',
        then => sub {
            my $last = substr($KEY, -1) eq 'a' ? 'b' : 'a';
            for my $k (substr($KEY, 0, -1) . $last, "${KEY}0", substr($KEY, 0, 32), '', uc $KEY,
                       " $KEY")
            {
                my $res = fcgi($SOCK, DOCUMENT_URI => '/health', FLORES_GATEWAY_KEY => $k);
                refused_ok($res, 403, 'FORBIDDEN', 'key of ' . length($k) . ' bytes');
                unlike($res->{body}, qr/\Q$KEY\E/i, 'the key is never echoed');
            }
        },
    },
    {
        # Protects: the refusal is visible to operators, and the key never reaches a log.
        name => 'refusals are logged at warn, without the key',
        then => sub {
            my $log = log_text();
            like($log, qr/"level":"warn".*without the gateway key/, 'a warn line');
            unlike($log, qr/\Q$KEY\E/i, 'the key is not in the log');
        },
    },
    {
        # Protects: an id the gateway would never send (malformed, out of range, without its
        # role, with an unknown role, "service" outside the passage) is nobody: 401 before
        # any handler, also on /health, never read as user 0, -1 or "everyone".
        name => 'with the key, identities that name nobody: 401',
        then => sub {
            for my $m (@MALFORMED) {
                for my $path ('/api/cart', '/health') {
                    my $res = fcgi($SOCK, DOCUMENT_URI => $path, FLORES_GATEWAY_KEY => $KEY,
                                   identity(@$m));
                    refused_ok($res, 401, 'UNAUTHORIZED', "$path with " . show(@$m));
                }
            }
        },
    },
    {
        # Protects: the checks refuse only what they should: well-formed callers get to the
        # handler (whose Redis is unreachable, hence 503).
        name => 'with the key, well-formed identities reach the handler',
        then => sub {
            my @ok = (
                ['/api/cart', identity('7', 'customer', '')],
                ['/api/cart', identity('9007199254740992', 'admin')],
                ['/api/cart/internal/users/7', identity('', 'service', '1')],
                ['/health', identity('', '', '')],
            );
            for my $c (@ok) {
                my ($path, %id) = @$c;
                my $res = fcgi($SOCK, DOCUMENT_URI => $path, FLORES_GATEWAY_KEY => $KEY, %id);
                is($res->{status}, 503, "$path as " . show(@id{qw(FLORES_USER_ID FLORES_USER_ROLE)})
                   . ': past identity, 503 from the store') or diag($res->{raw});
            }
            my $res = fcgi($SOCK, DOCUMENT_URI => '/metrics', FLORES_GATEWAY_KEY => $KEY);
            is($res->{status}, 200, '/metrics with the key');
        },
    },
    {
        # Protects: a second start never unlinks the socket of a running service.
        name => 'a second instance leaves the live socket alone',
        then => sub {
            my $r = run_cart();
            isnt($r->{rc}, 0, 'refused to start');
            like($r->{text}, qr/in use by another process/, 'says why');
            ok(-S $SOCK, 'the socket is still there');
            is(fcgi($SOCK, DOCUMENT_URI => '/health')->{status}, 403, 'and still answered by the first');
        },
    },
    {
        name => 'stopped by SIGTERM: exit 0, the socket file removed',
        then => sub {
            is(stop_cart(), 0, 'exit status 0');
            ok(!-e $SOCK, 'no socket file left');
        },
    },
    {
        # Protects: a misconfigured key or socket path stops the start instead of running open.
        name => 'a short or unreadable key, or a path that is not a socket: no start',
        then => sub {
            open my $fh, '>', "$DIR/short.key" or die;
            print {$fh} substr($KEY, 0, 31), "\n";
            close $fh;
            my $r = run_cart(FLORES_GATEWAY_KEY_FILE => "$DIR/short.key");
            isnt($r->{rc}, 0, 'a 31-byte key: refused');
            like($r->{text}, qr/at least 32 bytes/, 'says why');
            unlike($r->{text}, qr/\Q${\ substr($KEY, 0, 31)}\E/, 'without showing it');

            $r = run_cart(FLORES_GATEWAY_KEY_FILE => "$DIR/missing.key");
            isnt($r->{rc}, 0, 'an unreadable key file: refused');

            open $fh, '>', "$DIR/plain" or die;
            close $fh;
            $r = run_cart(FLORES_LISTEN => "$DIR/plain");
            isnt($r->{rc}, 0, 'a regular file at FLORES_LISTEN: refused');
            like($r->{text}, qr/not a socket/, 'says why');
            ok(-f "$DIR/plain", 'the file is left alone');

            $r = run_cart(FLORES_LISTEN_GROUP => 'no-such-group-' . random_hex(3));
            isnt($r->{rc}, 0, 'an unknown FLORES_LISTEN_GROUP: refused');
            ok(!-e $SOCK, 'no socket left behind');
        },
    },
    {
        # Protects: the stack's own services (through whatever they listen on, with the key
        # when the stack has one) refuse malformed ids the same way.
        name => "the stack's services: malformed ids 401, nobody 200",
        then => sub {
            my @envs = sort glob("$ENV{FLORES_STACK_DIR}/services/*.env");
            return pass('no service settings under FLORES_STACK_DIR') unless @envs;
            for my $f (@envs) {
                my %s;
                open my $fh, '<', $f or next;
                while (<$fh>) { $s{$1} = $2 if /^\s*([A-Z_][A-Z0-9_]*)=(.*?)\s*$/ }
                close $fh;
                my ($svc) = $f =~ m{([^/]+)\.env$};
                my $target = $s{FLORES_LISTEN} or next;
                my %key;
                if (my $kf = $s{FLORES_GATEWAY_KEY_FILE}) {
                    open my $k, '<', $kf or do { diag("$svc: cannot read $kf: $!"); next };
                    chomp(my $v = <$k> // '');
                    %key = (FLORES_GATEWAY_KEY => $v);
                }
                for my $m (['-1', 'customer'], ['0', 'admin'], ['007', 'customer'],
                           ['7', 'superuser'], ['7', undef], ['', 'service', ''])
                {
                    my $res = fcgi($target, DOCUMENT_URI => '/health', %key, identity(@$m));
                    refused_ok($res, 401, 'UNAUTHORIZED', "$svc /health with " . show(@$m));
                }
                my $res = fcgi($target, DOCUMENT_URI => '/health', %key, identity('', '', ''));
                is($res->{status}, 200, "$svc /health anonymous: 200") or diag($res->{raw});
            }
        },
    },
    {
        name => 'no sanitizer report from the service started here',
        then => sub {
            unlike(log_text(), qr/ERROR: (?:Address|Leak)Sanitizer|runtime error:/, 'clean');
        },
    },
]);

finish();
