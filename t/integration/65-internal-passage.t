#!/usr/bin/perl
# 65-internal-passage.t: services calling each other through the internal socket
# (/internal/<service>/api/..., FLORES_INTERNAL_SOCKET): the callee sees role "service" there and only there.  A
# token's role "service", client headers or the public listener never make a caller a
# service.  Probed with the product service's stock route (FV_SERVICE: services and
# administrators) and an empty body, so that nothing changes: 400 means the caller was let
# in, 401/403 that it was not.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $health = internal_api('GET', '/services/product/health');
plan skip_all => 'the product service is not running' unless $health->{status} == 200;

my $stock = '/api/products/AML001/stock';
my $rid = 'itest-passage.' . random_hex(8);
my $customer = mint_jwt({ sub => '900001', role => 'customer', email => 'cliente@example.cl' });
my $service = mint_jwt({ sub => '900002', role => 'service', email => 'svc@example.cl' });
my $admin = mint_jwt({ sub => '900003', role => 'admin', email => 'admin@example.cl' });

run_blocks([
    {
        # The passage: the product service let the call in (its body check answered).
        name    => 'a service call through the passage reaches the handler',
        request => ['PATCH', "$ENV{FLORES_INTERNAL_URL}/internal/product$stock", {}],
        headers => { 'X-Request-ID' => $rid },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        then    => sub {
            # One request id from the first service to the last.
            is($_[0]{json}{requestId}, $rid, 'the caller\'s request id reached the callee');
        },
    },
    {
        # The query string goes through with the path.
        name    => 'the query string is kept',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/product/api/products?limit=0"],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['limit'],
    },
    {
        name    => 'reads work through the passage',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/product/api/products/AML001"],
        status  => 200,
        raw     => 1,
        then    => sub { is($_[0]{json}{data}{product}{id}, 'AML001', 'the product') },
    },
    {
        # Only /api/ paths: not the service's health or metrics, not other services' pages.
        name    => 'the passage leads to /api/ only',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/product/metrics"],
        status  => 404,
    },
    {
        name    => 'dot segments do not leave the passage',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/product/api/../../services/product/metrics"],
        then    => sub {
            isnt($_[0]{status}, 200, 'not served');
            unlike($_[0]{raw}, qr/flores_http_requests_total/, 'no metrics text');
        },
    },
    {
        name    => 'unknown services have no passage',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/payments/api/x"],
        status  => 404,
    },
    {
        # The passage is on the gateway's unix socket only (reachable by the services' group):
        # the read-only TCP listener, which any local user can reach, has none.
        name    => 'the read-only TCP listener has no passage',
        request => ['PATCH', "$ENV{FLORES_INTERNAL_URL}/internal/product$stock", {}],
        source  => '127.0.0.1',
        status  => 404,
    },
    {
        # The read-only TCP listener serves 127.0.0.1 only.
        name    => 'another address is refused on the internal TCP listener',
        request => ['GET', "$ENV{FLORES_INTERNAL_URL}/services/product/health"],
        source  => '127.0.0.9',
        status  => 403,
    },
    {
        name    => 'the public listener has no passage',
        request => ['PATCH', "/internal/product$stock", {}],
        status  => 404,
    },
    {
        name    => 'anonymous on the public listener: 401',
        request => ['PATCH', $stock, {}],
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'a customer on the public listener: 403',
        request => ['PATCH', $stock, {}],
        token   => $customer,
        status  => 403,
        code    => 'FORBIDDEN',
    },
    {
        # A validly signed token claiming role "service" (auth never issues one) names nobody
        # the service knows: the role means something only inside the passage, and anywhere
        # else the request is refused 401 before any handler (identity fails closed).
        name    => 'a token with role service is no service',
        request => ['PATCH', $stock, {}],
        token   => $service,
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'client headers cannot claim the passage',
        request => ['PATCH', $stock, {}],
        token   => $customer,
        headers => { 'X-User-Role' => 'service', 'Flores-Internal' => '1',
                     'X-Flores-Internal' => '1', 'X-Flores-User-Role' => 'service' },
        status  => 403,
        code    => 'FORBIDDEN',
    },
    {
        name    => 'nor without a token',
        request => ['PATCH', $stock, {}],
        headers => { 'X-User-Role' => 'service', 'Flores-Internal' => '1' },
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        # FV_SERVICE routes also take an administrator's token on the public listener.
        name    => 'an administrator on the public listener is let in',
        request => ['PATCH', $stock, {}],
        token   => $admin,
        status  => 400,
        code    => 'VALIDATION_ERROR',
    },
]);

finish();
