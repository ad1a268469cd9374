#!/usr/bin/perl
# 40-store-outage.t: PostgreSQL stops: the auth service answers 503 SERVICE_UNAVAILABLE in
# the envelope within a second (no hanging connects), reports itself unhealthy, and serves
# again by itself once the store is back (same process, no restart).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use Time::HiRes ();

my $u = register_user(name => 'Pablo Postgres', tag => 'store');
my $HEALTH = "$ENV{FLORES_INTERNAL_URL}/services/auth/health";
my %ctx;

# The pid listening on the auth service's FastCGI socket, when ss can tell.
sub auth_pid {
    my $r = run_cmd(['ss', '-Hxlp', 'src', service_socket('auth')], timeout => 10);
    return $r->{rc} == 0 && $r->{out} =~ /pid=(\d+)/ ? $1 : undef;
}

sub all_auth_requests {
    return metric_sum("$ENV{FLORES_INTERNAL_URL}/services/auth/metrics", 'flores_http_requests_total',
        { service => 'auth' });
}

run_blocks([
    {
        name => 'healthy before the outage',
        request => ['GET', $HEALTH],
        status  => 200,
        raw     => 1,
        then    => sub {
            $ctx{pid} = auth_pid();
            $ctx{count} = all_auth_requests();
            ok(defined $ctx{count}, 'request counters readable');
        },
    },
    {
        name => 'stop PostgreSQL',
        then => sub { is(stop_component('postgres')->{rc}, 0, './flores stop postgres') },
    },
    {
        # Protects: a store outage is a prompt 503 in the envelope, not a hang or a 500.
        name    => 'register while the store is down',
        request => ['POST', '/api/auth/register', { name => 'Nadia Nueva', email => unique_email('down'), password => 'clave-Segura-1' }],
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
        headers_like => { 'Retry-After' => qr/^[1-9][0-9]*\z/ },
    },
    {
        name    => 'login while the store is down',
        request => ['POST', '/api/auth/login', { email => $u->{email}, password => $u->{password} }],
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
    },
    {
        # Protects: /health tells the truth about the service's own store.
        name    => 'health reports the store down',
        request => ['GET', $HEALTH],
        status  => 503,
        raw     => 1,
        max_ms  => 3000,
    },
    {
        name => 'start PostgreSQL',
        then => sub { is(start_component('postgres')->{rc}, 0, './flores start postgres') },
    },
    {
        # Protects: per-worker connections are re-opened after the store returns.
        name => 'the service recovers by itself within 10 s',
        then => sub {
            my $t0 = time;
            my $ok = wait_for(10, sub { api('GET', $HEALTH)->{status} == 200 }, 0.5);
            ok($ok, 'health is 200 again') or return;
            diag(sprintf 'healthy again after %d s', time - $t0) if $ENV{TEST_VERBOSE};
            # Every worker must have reconnected, not just the one that answered health.
            my @st = map { login($u->{email}, $u->{password})->{status} } 1 .. 12;
            is_deeply(\@st, [(200) x 12], 'twelve logins in a row succeed');
        },
    },
    {
        # Protects: recovery came from the running process, not from a restart.
        name => 'same process: no restart happened',
        then => sub {
            my $pid = auth_pid();
            SKIP: {
                skip 'the listener pid is not visible (ss)', 1 unless defined $ctx{pid} && defined $pid;
                is($pid, $ctx{pid}, "the auth service is still pid $ctx{pid}");
            }
            my $count = all_auth_requests();
            ok(defined $count && defined $ctx{count} && $count >= $ctx{count} + 14,
                'request counters kept counting (a restart would reset them)')
                or diag('before ' . ($ctx{count} // 'unreadable') . ', after ' . ($count // 'unreadable'));
        },
    },
]);

finish();
