#!/usr/bin/perl
# 26-login-limit-exact.t: the login limit (10 failures per 15 min for one address and email,
# conf/nginx/limits.conf) is exact when attempts race: 60 wrong passwords sent together for
# one email from one address let at most 10 reach the auth service, the rest are 429 at the
# gateway; the same key then waits (even with the right password) while another address,
# another account and right passwords in flight are not held back; one email written with
# FF/VT around it or in capitals is the same key.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use POSIX ();
use Time::HiRes ();

my $LOGIN = '/api/auth/login';

# One client per body, started together, each POSTing its body to the login from $source.
# Returns the answers' statuses and Retry-After values as [status, retry] pairs.
sub race {
    my ($source, @bodies) = @_;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";
    pipe my $go_r, my $go_w or die "pipe: $!";

    for my $body (@bodies) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;
            close $go_w;

            # every client waits here until all exist
            my $start = <$go_r>;

            my $res = api('POST', $LOGIN, $body, undef, { source => $source });
            syswrite $w, join("\t", $res->{status} // 0, $res->{headers}{'retry-after'} // '') . "\n";

            # not exit(): Test::More's END block must not run in a client
            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    close $w;
    close $go_r;
    close $go_w;

    my @out;

    while (my $line = <$r>) {
        chomp $line;
        push @out, [split /\t/, $line, -1];
    }

    waitpid $_, 0 for @kids;

    return @out;
}

sub count { my ($status, @a) = @_; scalar grep { $_->[0] == $status } @a }

my $victim = register_user(name => 'Valentina Exacta', tag => 'exact');
my $other  = register_user(name => 'Octavio Exacto', tag => 'exact');
my $src = next_source_address();
my %ctx;

run_blocks([
    {
        # Protects: parallel wrong passwords cannot outrun the limit (each attempt reserves its
        # unit at the gateway before it reaches the service): at most 10, not hundreds.
        name    => '60 wrong passwords at once for one email from one address: at most 10 reach auth',
        then    => sub {
            my $before = auth_requests($LOGIN) // 0;
            my @a = race($src, map { { email => $victim->{email}, password => "mala-clave-$_" } } 1 .. 60);
            Time::HiRes::sleep(0.3);
            my $after = auth_requests($LOGIN) // 0;
            my ($failed, $refused) = (count(401, @a), count(429, @a));
            is(scalar @a, 60, 'all 60 answered');
            cmp_ok($failed, '<=', 10, "at most 10 got 401 (they reached the service): $failed");
            is($failed, 10, 'the whole allowance was used: exactly 10');
            is($refused, 60 - $failed, 'every other one 429 at the gateway');
            is($after - $before, $failed, 'the auth service counted only the attempts that got 401');
            my @late = grep { $_->[0] == 429 && !($_->[1] =~ /^\d+\z/ && $_->[1] >= 1 && $_->[1] <= 90) } @a;
            is(scalar @late, 0, 'Retry-After 1..90 s on every 429 (one attempt every 90 s after 10)');
        },
    },
    {
        # Documented semantics: the key (this address + this email) has used its 10 failures,
        # so the next attempt waits for Retry-After whatever the password; the gateway cannot
        # tell a right password before the service checks it.
        name    => 'the same address and email, right password: still 429 until a unit frees',
        request => sub { ['POST', $LOGIN, { email => $victim->{email}, password => $victim->{password} }] },
        source  => $src,
        status  => 429,
        code    => 'RATE_LIMITED',
        headers_like => { 'retry-after' => qr/^(?:[1-9]|[1-8][0-9]|90)\z/,
                          'ratelimit'   => qr/^"login";r=0;t=\d+\z/ },
        untouched => $LOGIN,
    },
    {
        # Protects: the email in the key follows the services' one rule (SP HT LF VT FF CR
        # trimmed, ASCII lower case): another spelling of the same email is the same key.
        name    => 'the same email with FF and VT around it, in capitals: the same key, 429',
        request => sub { ['POST', $LOGIN, { email => "\f\x0b " . uc($victim->{email}) . "\x0b\f",
                                            password => 'mala-clave-x' }] },
        source  => $src,
        status  => 429,
        code    => 'RATE_LIMITED',
        headers_like => { 'ratelimit' => qr/^"login";r=0;t=\d+\z/ },
        untouched => $LOGIN,
    },
    {
        # Protects: other people's failures never lock a user out: another address is another key.
        name    => 'the same account from another address signs in',
        request => sub { ['POST', $LOGIN, { email => $victim->{email}, password => $victim->{password} }] },
        status  => 200,
    },
    {
        # Protects: the address-only zone (30 failures) only holds the 10 that were counted.
        name    => 'another account from the same address signs in',
        request => sub { ['POST', $LOGIN, { email => $other->{email}, password => $other->{password} }] },
        source  => $src,
        status  => 200,
    },
    {
        # Protects: right passwords give their unit back: 8 in flight together all pass, and
        # the key still has its 10 failures, exactly 10, after them.
        name    => 'right passwords in flight give their units back; 10 failures still fit, not 11',
        then    => sub {
            my $s = next_source_address();
            my @ok = race($s, map { { email => $other->{email}, password => $other->{password} } } 1 .. 8);
            is(count(200, @ok), 8, '8 right passwords at once: all 200');
            my @bad = race($s, map { { email => $other->{email}, password => "mala-$_" } } 1 .. 14);
            is(count(401, @bad), 10, 'then 14 wrong ones at once: exactly 10 reach the service');
            is(count(429, @bad), 4, 'and 4 are refused');
        },
    },
]);

finish();
