#!/usr/bin/perl
# 26-token-revocation.t: the auth service ends access tokens before they expire.  logout-all, a
# password change, a demotion and a deactivation set the user's cutoff (auth.users.
# tokens_valid_after = now + 1 s) and POST "<sub> <cutoff>\n" (text/plain) to the gateway's
# revocation path at once; every recent cutoff is POSTed again every 10 s, so a push that
# failed arrives later; a token minted afterwards has iat >= the cutoff.  The gateway here is
# a tiny receiver standing in for it (FLORES_INTERNAL_URL points at it): this file runs its
# own flores-auth on the stack's auth socket, with the stack's environment but that URL.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use File::Temp ();
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use POSIX ();
use Time::HiRes qw(sleep);

my $STACK = $ENV{FLORES_STACK_DIR} or BAIL_OUT('FLORES_STACK_DIR is not set');
my $AUTH_BIN = "$ENV{FLORES_BIN_DIR}/fcgi-services/auth/flores-auth";
my $seen = File::Temp->new;            # what the receiver got, one line per request
my ($recv_pid, $recv_port, $auth_pid);
my %ctx;

# The stand-in gateway: answers 204 to every request and appends
# "<method> <path> <content-type> <body with \n as |>" to $seen.
sub receiver_start {
    my $port = shift // 0;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 16,
        ReuseAddr => 1, Proto => 'tcp') or die "receiver: $!";
    $recv_port = $srv->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # One request per connection, so that no kept-alive client holds the receiver.
        while (my $c = $srv->accept) {
            {
                my $line = <$c> // last;
                my ($method, $path) = split ' ', $line;
                my %h;
                while (my $l = <$c>) {
                    $l =~ s/\r?\n\z//;
                    last if $l eq '';
                    my ($k, $v) = split /:\s*/, $l, 2;
                    $h{lc $k} = $v;
                }
                my $body = '';
                read($c, $body, $h{'content-length'} // 0) if $h{'content-length'};
                open my $fh, '>>', $seen->filename or die;
                (my $flat = $body) =~ s/\n/|/g;
                printf {$fh} "%.3f %s %s %s %s\n", Time::HiRes::time(), $method, $path,
                    $h{'content-type'} // '-', $flat;
                close $fh;
                print {$c} "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    $recv_pid = $pid;
}

sub receiver_stop { if ($recv_pid) { kill 'KILL', $recv_pid; waitpid $recv_pid, 0; $recv_pid = undef } }

# The lines the receiver got for user $id after time $since: [[time, method, path, type, body]].
sub pushes_for {
    my ($id, $since) = @_;
    open my $fh, '<', $seen->filename or return [];
    my @r;
    while (my $l = <$fh>) {
        chomp $l;
        my @f = split / /, $l, 5;
        next if $f[0] < $since;
        push @r, \@f if grep { /^\Q$id\E \d+\z/ } split /\|/, $f[4] // '';
    }
    return \@r;
}

sub cutoff_of { return pg_value('SELECT tokens_valid_after FROM auth.users WHERE id = $1', $_[0]) // -1 }

# flores-auth as ./flores starts it, but reporting to the receiver.
sub auth_start {
    my %env = (PATH => '/usr/local/bin:/usr/bin:/bin', LANG => 'C.UTF-8', TZ => 'UTC');
    open my $fh, '<', "$STACK/services/auth.env" or die "auth.env: $!";
    while (<$fh>) {
        chomp;
        next if /^\s*(#|$)/;
        my ($k, $v) = split /=/, $_, 2;
        $env{$k} = $v;
    }
    $env{FLORES_INTERNAL_URL} = "http://127.0.0.1:$recv_port";
    delete $env{FLORES_INTERNAL_SOCKET};
    my $listen = $env{FLORES_LISTEN};
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$STACK/log/auth.log";
        open STDERR, '>&', \*STDOUT;
        %ENV = %env;
        exec $AUTH_BIN or POSIX::_exit(127);
    }
    $auth_pid = $pid;
    return wait_for(15, sub {
        $listen =~ m{^/}
            ? IO::Socket::UNIX->new(Peer => $listen, Type => SOCK_STREAM)
            : IO::Socket::INET->new(PeerAddr => $listen, Timeout => 1);
    }, 0.1);
}

sub auth_stop { if ($auth_pid) { kill 'TERM', $auth_pid; waitpid $auth_pid, 0; $auth_pid = undef } }

END {
    local $?;               # waitpid must not change the test's exit status
    auth_stop();
    receiver_stop();
}

my $ADMIN_ID = 700_000_000 + int(rand(90_000_000));
my $ADM = mint_jwt({ sub => "$ADMIN_ID", role => 'admin', email => "rev$ADMIN_ID\@example.com",
                     exp => time + 3600 });

run_blocks([
    {
        name => 'setup: the receiver, and flores-auth reporting to it',
        then => sub {
            receiver_start();
            ok($recv_port, "receiver on port $recv_port");
            is(stop_component('auth')->{rc}, 0, "the stack's auth stopped");
            ok(auth_start(), 'flores-auth started with FLORES_INTERNAL_URL at the receiver');
            $ctx{u} = register_user(tag => 'revoke');
            $ctx{s} = login_ok($ctx{u});
            is(cutoff_of($ctx{u}{id}), 0, 'a new account has no cutoff');
            sleep 1.2;    # past the start's re-push, so what follows comes from the requests
        },
    },
    {
        # Protects: logout-all ends the access tokens too, and tells the gateway at once.
        name => 'logout-all sets the cutoff and pushes it within the request',
        then => sub {
            my $t0 = time;
            my $res = api('POST', '/api/auth/logout-all', {}, bearer($ctx{s}{token}));
            success_ok($res, 200, 'logout-all');
            my $t1 = time;
            my $cut = cutoff_of($ctx{u}{id});
            ok($cut >= $t0 + 1 && $cut <= $t1 + 1, "cutoff $cut is now + 1 s");
            ok($cut > $ctx{s}{claims}{iat}, 'later than the old token\'s iat');
            my $p = pushes_for($ctx{u}{id}, $t0 - 0.5);
            ok(@$p >= 1, 'the receiver got a push by the time the answer came') or return;
            my ($time, $method, $path, $type, $body) = @{ $p->[0] };
            is($method, 'POST', 'POST');
            is($path, '/revocations', 'to FLORES_GATEWAY_REVOCATION_URL\'s path');
            like($type, qr{^text/plain}, 'Content-Type text/plain');
            like($body, qr/(?:^|\|)$ctx{u}{id} $cut\|/, '"<sub> <cutoff>\n"');
            $ctx{cut} = $cut;
        },
    },
    {
        # Protects: a token minted in the revoking second is not refused by its own cutoff.
        name => 'a token minted after the revocation has iat >= the cutoff',
        then => sub {
            my $s = login_ok($ctx{u});
            cmp_ok($s->{claims}{iat}, '>=', $ctx{cut}, 'iat >= cutoff');
            is($s->{claims}{exp} - $s->{claims}{iat}, 900, 'and lives its whole lifetime from it');
            $ctx{s} = $s;
        },
    },
    {
        # Protects: a restarted gateway (or a push that failed) is whole again within 10 s.
        name => 'recent cutoffs are pushed again every 10 s',
        then => sub {
            my $t0 = time;
            ok(wait_for(12, sub { @{ pushes_for($ctx{u}{id}, $t0) } > 0 }, 0.2),
                'the cutoff again within 12 s, without any request');
        },
    },
    {
        name => 'a password change sets and pushes a cutoff',
        then => sub {
            sleep 1.1;
            my $t0 = time;
            my $new = 'otra-Clave-' . random_hex(4);
            success_ok(api('POST', '/api/auth/change-password',
                { currentPassword => $ctx{u}{password}, newPassword => $new }, bearer($ctx{s}{token})),
                200, 'change-password');
            $ctx{u}{password} = $new;
            my $cut = cutoff_of($ctx{u}{id});
            cmp_ok($cut, '>', $ctx{cut}, 'a later cutoff');
            ok(grep({ $_->[4] =~ /(?:^|\|)$ctx{u}{id} $cut\|/ } @{ pushes_for($ctx{u}{id}, $t0 - 0.5) }),
                'pushed');
            $ctx{cut} = $cut;
        },
    },
    {
        # Protects: the gateway being away does not fail the user's request; the re-push
        # delivers the cutoff once it is back.
        name => 'a failed push is logged, the request answered, the cutoff delivered later',
        then => sub {
            my $port = $recv_port;
            receiver_stop();
            my $s = login_ok($ctx{u});
            my $t0 = time;
            success_ok(api('POST', '/api/auth/logout-all', {}, bearer($s->{token})), 200,
                'logout-all with the gateway away');
            my $cut = cutoff_of($ctx{u}{id});
            receiver_start($port);
            ok(wait_for(12, sub {
                grep { $_->[4] =~ /(?:^|\|)$ctx{u}{id} $cut\|/ } @{ pushes_for($ctx{u}{id}, $t0) }
            }, 0.2), 'delivered by the re-push');
            $ctx{cut} = $cut;
        },
    },
    {
        # Protects: a demoted administrator's admin tokens end (user.role_changed in auth).
        name => 'a demotion sets and pushes a cutoff',
        then => sub {
            success_ok(api('PATCH', "/api/users/$ctx{u}{id}", { role => 'admin' }, bearer($ADM)), 200, 'promoted');
            ok(wait_for(10, sub { (pg_value('SELECT role FROM auth.users WHERE id = $1', $ctx{u}{id}) // '') eq 'admin' }, 0.2),
                'auth has the promotion');
            is(cutoff_of($ctx{u}{id}), $ctx{cut} // -2, 'a promotion revokes nothing') if defined $ctx{cut};
            $ctx{cut} = cutoff_of($ctx{u}{id});
            sleep 1.1;
            my $t0 = time;
            success_ok(api('PATCH', "/api/users/$ctx{u}{id}", { role => 'customer' }, bearer($ADM)), 200, 'demoted');
            ok(wait_for(10, sub { cutoff_of($ctx{u}{id}) > $ctx{cut} }, 0.2), 'a later cutoff');
            my $cut = cutoff_of($ctx{u}{id});
            ok(wait_for(3, sub {
                grep { $_->[4] =~ /(?:^|\|)$ctx{u}{id} $cut\|/ } @{ pushes_for($ctx{u}{id}, $t0) }
            }, 0.1), 'pushed by the consumer');
            $ctx{cut} = $cut;
        },
    },
    {
        name => 'a deactivation sets and pushes a cutoff',
        then => sub {
            sleep 1.1;
            my $t0 = time;
            success_ok(api('PATCH', "/api/users/$ctx{u}{id}", { active => JSON::PP::false() }, bearer($ADM)), 200,
                'deactivated');
            ok(wait_for(10, sub { cutoff_of($ctx{u}{id}) > $ctx{cut} }, 0.2), 'a later cutoff');
            my $cut = cutoff_of($ctx{u}{id});
            ok(wait_for(3, sub {
                grep { $_->[4] =~ /(?:^|\|)$ctx{u}{id} $cut\|/ } @{ pushes_for($ctx{u}{id}, $t0) }
            }, 0.1), 'pushed');
        },
    },
    {
        name => 'teardown: the stack\'s auth again',
        then => sub {
            auth_stop();
            is(start_component('auth')->{rc}, 0, "the stack's auth started");
        },
    },
]);

finish();
