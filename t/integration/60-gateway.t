#!/usr/bin/perl
# 60-gateway.t: the gateway's own guarantees on the real stack, with the shipped conf/:
# failures-only login limits, the public tier's headers, the auth breaker opening when the
# service is gone and answering without it, /health following it, force-reset, exact
# metrics, and the JSON access log carrying the request id.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $METRICS = "$ENV{FLORES_INTERNAL_URL}/metrics";

sub gw_requests {
    my ($service, $class) = @_;
    return metric_sum($METRICS, 'flores_gateway_requests_total',
        { service => $service, code_class => $class });
}

sub breaker_of {
    my ($name) = @_;
    my $r = internal_api('GET', '/breakers');
    return undef unless $r->{status} == 200 && ref $r->{json} eq 'HASH';
    my $d = $r->{json}{data};
    my @list = ref $d eq 'ARRAY' ? @$d : ref $d->{breakers} eq 'ARRAY' ? @{ $d->{breakers} } : ();
    my ($b) = grep { ($_->{service} // '') eq $name } @list;
    return $b;
}

my $victim = register_user(name => 'Vera Victima', tag => 'limit');
my $other  = register_user(name => 'Omar Otro', tag => 'limit');

subtest 'failed logins are limited per address and email; the right password is not' => sub {
    # Protects: 10 failures / 15 min per address+email (API.md), counted only on 401.
    my $src = next_source_address();
    for my $i (1 .. 10) {
        my $r = api('POST', '/api/auth/login', { email => $victim->{email}, password => 'mala-clave-' . $i },
            undef, { source => $src });
        is($r->{status}, 401, "failed attempt $i answers 401") or diag($r->{raw});
        like($r->{headers}{'ratelimit-policy'} // '', qr/q=\d+;w=\d+/, "attempt $i carries RateLimit-Policy");
    }
    my $r = api('POST', '/api/auth/login', { email => $victim->{email}, password => 'otra-mala' },
        undef, { source => $src });
    envelope_ok($r, 429, 'RATE_LIMITED');
    like($r->{headers}{'retry-after'} // '', qr/^[1-9][0-9]*\z/, 'Retry-After in whole seconds');
    like($r->{headers}{'ratelimit'} // '', qr/;r=0;t=\d+/, 'RateLimit says nothing remains');

    # Another account from the same address still signs in: the address-only zone is wider.
    my $ok = api('POST', '/api/auth/login', { email => $other->{email}, password => $other->{password} },
        undef, { source => $src });
    is($ok->{status}, 200, 'another account from the same address logs in') or diag($ok->{raw});

    # Right passwords are never counted: 15 good logins in a row from one address all pass.
    my $src2 = next_source_address();
    my $good = 0;
    for (1 .. 15) {
        my $g = api('POST', '/api/auth/login', { email => $other->{email}, password => $other->{password} },
            undef, { source => $src2 });
        $good++ if $g->{status} == 200;
    }
    is($good, 15, 'fifteen right passwords in a row are all accepted');
};

subtest 'the public tier reports its allowance' => sub {
    my $r = api('GET', '/api/auth/.well-known/jwks.json');
    like($r->{headers}{'ratelimit-policy'} // '', qr/"public";q=300;w=60/, 'public tier: 300 per minute');
    like($r->{headers}{'ratelimit'} // '', qr/"public";r=\d+;t=\d+/, 'remaining allowance reported');
};

subtest 'gateway metrics count exactly what was sent' => sub {
    my $before = gw_requests('auth', '4xx');
    ok(defined $before, 'gateway metrics readable');
    for (1 .. 7) {
        api('GET', '/api/auth/me');                       # 401 from the gateway itself
    }
    # Counted in the log phase, which may end just after the client read the answer.
    my $after = wait_for(3, sub { my $n = gw_requests('auth', '4xx'); $n - $before >= 7 ? $n : 0 })
        || gw_requests('auth', '4xx');
    is($after - $before, 7, 'seven 4xx answers counted for service auth');
    my $scrapes = gw_requests('gateway', '2xx');
    my $again = gw_requests('gateway', '2xx');
    is($again, $scrapes, 'scrapes are not counted');
};

subtest 'the access log is JSON with the request id' => sub {
    my $id = 'gw-log-' . random_hex(8);
    my $r = api('GET', '/api/auth/me', undef, { 'X-Request-ID' => $id });
    is($r->{headers}{'x-request-id'}, $id, 'request id echoed');
    my $line;
    wait_for(5, sub {
        open my $fh, '<', "$ENV{FLORES_LOG_DIR}/access.log" or return 0;
        while (<$fh>) { $line = $_ if index($_, $id) >= 0 }
        close $fh;
        return defined $line;
    });
    ok(defined $line, 'access log has the request') or return;
    my $j = eval { JSON::PP->new->decode($line) };
    ok(ref $j eq 'HASH', 'the line is JSON') or return;
    is($j->{requestId}, $id, 'requestId');
    is($j->{service}, 'auth', 'service');
    is($j->{status} + 0, 401, 'status');
};

subtest 'the auth breaker opens when the service is gone, and recovers' => sub {
    is(breaker_of('auth')->{state} // '', 'closed', 'closed to begin with');
    is(stop_component('auth')->{rc}, 0, './flores stop auth');

    # critical profile: 5 consecutive failures open it.  Each refused connection is a 503.
    for my $i (1 .. 5) {
        my $r = api('POST', '/api/auth/login', { email => $other->{email}, password => $other->{password} });
        envelope_ok($r, 503, 'SERVICE_UNAVAILABLE');
    }
    # The gateway counts a failure in the log phase, just after the answer went out: the fifth
    # may be counted a moment after the client has read its 503.
    my $b = wait_for(3, sub { my $x = breaker_of('auth'); $x && ($x->{state} // '') eq 'open' ? $x : undef }, 0.05)
        || breaker_of('auth') || {};
    is($b->{state}, 'open', 'open after five failures');

    my $log_before = -s "$ENV{FLORES_LOG_DIR}/nginx.log" // 0;
    my $r = api('POST', '/api/auth/login', { email => $other->{email}, password => $other->{password} });
    envelope_ok($r, 503, 'SERVICE_UNAVAILABLE');
    cmp_ok($r->{headers}{'retry-after'} // 0, '>=', 20, 'Retry-After tells the open time left');
    # While open the gateway does not even try: no new connect() errors.
    open my $fh, '<', "$ENV{FLORES_LOG_DIR}/nginx.log";
    seek $fh, $log_before, 0 if $fh;
    my $new = $fh ? do { local $/; <$fh> } // '' : '';
    unlike($new, qr/connect\(\) failed/, 'the service was not contacted while open');

    my $h = api('GET', '/health');
    is($h->{status}, 503, '/health is down while the critical auth service is');
    is($h->{json}{data}{services}{auth}{circuit}, 'open', '/health shows the open circuit');

    is(start_component('auth')->{rc}, 0, './flores start auth');
    my $reset = internal_api('POST', '/breakers?reset=auth');
    is($reset->{status}, 200, 'force-reset answered') or diag($reset->{raw});
    is(breaker_of('auth')->{state}, 'closed', 'closed after the reset');
    my $ok = api('POST', '/api/auth/login', { email => $other->{email}, password => $other->{password} });
    is($ok->{status}, 200, 'login works again') or diag($ok->{raw});
    my $h2 = api('GET', '/health');
    is($h2->{status}, 200, '/health is back');
};

done_testing();
