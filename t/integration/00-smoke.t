#!/usr/bin/perl
# 00-smoke.t: the stack answers: gateway, internal listener, auth health and metrics, the
# envelope on unknown paths, and request ids end to end.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $sane = 'itest-req.' . random_hex(8) . '_ok';

run_blocks([
    {
        # The service is alive and reaches its own store.
        name    => 'auth health on the internal listener',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/services/auth/health"],
        status  => 200,
        raw     => 1,
    },
    {
        # Prometheus scrapes the service through the internal listener.
        name    => 'auth metrics on the internal listener',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/services/auth/metrics"],
        status  => 200,
        raw     => 1,
        then    => sub {
            my $res = shift;
            like($res->{raw}, qr/^flores_http_requests_total\{[^}]*service="auth"/m,
                'request counter in Prometheus text');
            like(header($res, 'Content-Type') // '', qr{^text/plain}, 'text/plain');
        },
    },
    {
        # The gateway's own metrics, on the internal listener only.
        name    => 'gateway metrics on the internal listener',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/metrics"],
        status  => 200,
        raw     => 1,
        then    => sub { like($_[0]{raw}, qr/^flores_gateway_requests_total\{[^}]*service="auth"/m, 'per-service request counter') },
    },
    {
        name    => 'gateway metrics are not public',
        request => ['GET', '/metrics'],
        then    => sub {
            isnt($_[0]{status}, 200, 'not served on the public port');
            unlike($_[0]{raw}, qr/flores_gateway_requests_total/, 'no metrics text leaks');
        },
    },
    {
        # Internal pages are not reachable from the public listener.
        name    => 'service metrics are not public',
        request => ['GET', '/services/auth/metrics'],
        then    => sub {
            my $res = shift;
            isnt($res->{status}, 200, 'not served on the public port');
            unlike($res->{raw}, qr/flores_http_requests_total/, 'no metrics text leaks');
        },
    },
    {
        name    => 'service health is not public',
        request => ['GET', '/services/auth/health'],
        then    => sub { isnt($_[0]{status}, 200, 'not served on the public port') },
    },
    {
        # Every answer, including the gateway's own, is an envelope.
        name    => 'unknown API path is a 404 envelope',
        request => ['GET', '/api/no-such-thing-' . random_hex(3)],
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        # The service's route table answers unknown auth paths in the envelope.
        name    => 'unknown auth path is a 404 envelope',
        request => ['GET', '/api/auth/no-such-route'],
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        # 405 names the allowed methods.
        name    => 'wrong method on login is 405 with Allow',
        request => ['GET', '/api/auth/login'],
        status  => 405,
        code    => 'METHOD_NOT_ALLOWED',
        headers_like => { Allow => qr/\bPOST\b/ },
    },
    {
        # A sane client request id is kept and echoed.
        name    => 'sane X-Request-ID is echoed',
        request => ['POST', '/api/auth/refresh', { refreshToken => 'no-such-token' }],
        headers => { 'X-Request-ID' => $sane },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
        headers_like => { 'X-Request-ID' => $sane },
        json    => { requestId => $sane },
        then    => sub {
            # ... and reaches the service's log line for that request.
            my $lines = wait_for(5, sub { my @l = auth_log_lines($sane); @l ? \@l : 0 });
            ok($lines, "auth.log has a line with requestId $sane");
        },
    },
    {
        # 64 characters is the longest sane id.
        name    => '64-character X-Request-ID is echoed',
        request => ['GET', '/api/auth/me'],
        headers => { 'X-Request-ID' => 'a' x 64 },
        status  => 401,
        code    => 'UNAUTHORIZED',
        headers_like => { 'X-Request-ID' => 'a' x 64 },
    },
    (map {
        my ($what, $id) = @$_;
        +{
            # An insane id (log injection, unbounded length) is replaced, never echoed.
            name    => "insane X-Request-ID ($what) is replaced",
            request => ['POST', '/api/auth/refresh', { refreshToken => 'no-such-token' }],
            headers => { 'X-Request-ID' => $id },
            status  => 401,
            code    => 'INVALID_REFRESH_TOKEN',
            then    => sub {
                my $res = shift;
                my $got = header($res, 'X-Request-ID') // '';
                isnt($got, $id, 'not echoed');
                like($got, qr/^[A-Za-z0-9._-]{1,64}\z/, 'a sane generated id instead');
                my $lines = wait_for(5, sub { my @l = auth_log_lines($got); @l ? \@l : 0 });
                ok($lines, "the service logged the generated id $got");
            },
        }
    } (['spaces', 'has spaces ' . random_hex(4)],
       ['65 characters', 'b' x 65],
       ['quote and brace', 'x"}' . random_hex(4)])),
    {
        # Without a client id the gateway makes one.
        name    => 'a request id is generated when none is sent',
        request => ['GET', '/api/auth/me'],
        status  => 401,
        code    => 'UNAUTHORIZED',
        headers_like => { 'X-Request-ID' => qr/^[A-Za-z0-9._-]{8,64}\z/ },
    },
]);

finish();
