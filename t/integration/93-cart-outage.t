#!/usr/bin/perl
# 93-cart-outage.t: the cart when what it depends on fails.
#   Redis restarted: the carts survive (append-only file) and the service serves again by
#   itself, from the first request on.
#   Redis stopped: 503 SERVICE_UNAVAILABLE in the envelope within a second for reads and
#   writes, /health says so; the service serves again by itself once Redis is back.
#   Product service stopped: a cart with lines cannot be priced, nor a product checked: 503.
# Few requests are sent during each outage: the cart breaker (standard profile) must not open
# because of this file.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $HEALTH = "$ENV{FLORES_INTERNAL_URL}/services/cart/health";
my $id = 600_000_000 + int(rand(90_000_000));
my $TOKEN = mint_jwt({ sub => "$id", email => "caida$id\@example.com", exp => time + 3600 });

# As the stack's administrator (the services' Redis users may touch their own keys only).
sub redis_cli { return redis_cmd(@_) }
cleanup(sub { redis_cli('DEL', "cart:$id") });

my $list = api('GET', '/api/products?limit=2');
plan skip_all => 'the product service is not part of this stack'
    unless $list->{status} == 200 && @{ $list->{json}{data}{products} || [] } >= 2;
my ($A, $B) = map { $_->{id} } @{ $list->{json}{data}{products} };

sub quantity_of {
    my $r = api('GET', '/api/cart', undef, bearer($TOKEN));
    return undef unless $r->{status} == 200;
    my ($l) = grep { $_->{productId} eq $A } @{ $r->{json}{data}{cart}{items} };
    return $l ? $l->{quantity} : 0;
}

run_blocks([
    {
        name    => 'a cart with a line',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 4 }],
        token   => $TOKEN,
        status  => 200,
    },
    {
        name    => 'healthy',
        request => ['GET', $HEALTH],
        status  => 200,
        json    => { data => { checks => { redis => 'up' } } },
    },
    # ---- Redis restarted ------------------------------------------------------------------
    {
        name => 'restart Redis',
        then => sub { is(flores('restart', 'redis')->{rc}, 0, './flores restart redis') },
    },
    {
        # Protects: carts survive a Redis restart, and no worker uses a connection the old
        # server closed (each of the 8 workers answers at once).
        name => 'the cart is still there, from every request on',
        then => sub {
            my @q = map { quantity_of() } 1 .. 12;
            is_deeply(\@q, [(4) x 12], 'twelve reads in a row: 4 each time');
        },
    },
    {
        name    => 'and writable',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 1 }],
        token   => $TOKEN,
        status  => 200,
        json    => { data => { item => { quantity => 5 } } },
    },
    # ---- Redis stopped --------------------------------------------------------------------
    {
        name => 'stop Redis',
        then => sub { is(stop_component('redis')->{rc}, 0, './flores stop redis') },
    },
    {
        name    => 'read while Redis is down: 503 within a second',
        request => ['GET', '/api/cart'],
        token   => $TOKEN,
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
        headers_like => { 'Retry-After' => qr/^[1-9][0-9]*\z/ },
    },
    {
        name    => 'add while Redis is down: 503 within a second',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 1 }],
        token   => $TOKEN,
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
    },
    {
        name    => 'PUT while Redis is down: 503',
        request => ['PUT', "/api/cart/items/$A", { quantity => 1 }],
        token   => $TOKEN,
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
    },
    {
        name    => '/health says Redis is down',
        request => ['GET', $HEALTH],
        status  => 503,
        raw     => 1,
        json    => { code => 'SERVICE_UNAVAILABLE', data => { checks => { redis => 'down' } } },
    },
    {
        name => 'start Redis',
        then => sub { is(start_component('redis')->{rc}, 0, './flores start redis') },
    },
    {
        name => 'the service serves again by itself, with the cart as it was',
        then => sub {
            my @q = map { quantity_of() } 1 .. 12;
            is_deeply(\@q, [(5) x 12], 'twelve reads in a row: 5 each time');
        },
    },
    # ---- product service stopped ----------------------------------------------------------
    {
        name => 'stop the product service',
        then => sub { is(stop_component('product')->{rc}, 0, './flores stop product') },
    },
    {
        name    => 'reading a cart with lines: 503',
        request => ['GET', '/api/cart'],
        token   => $TOKEN,
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
    },
    {
        name    => 'adding a product: 503, nothing added',
        request => ['POST', '/api/cart/items', { productId => $B, quantity => 1 }],
        token   => $TOKEN,
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        then    => sub { is(redis_cli('HEXISTS', "cart:$id", $B), 0, 'no line') },
    },
    {
        name    => 'changing a line does not need the catalogue',
        request => ['PUT', "/api/cart/items/$A", { quantity => 2 }],
        token   => $TOKEN,
        status  => 200,
    },
    {
        name => 'start the product service',
        then => sub { is(start_component('product')->{rc}, 0, './flores start product') },
    },
    {
        name => 'the cart reads again',
        then => sub { ok(wait_for(10, sub { (quantity_of() // -1) == 2 }), 'quantity 2') },
    },
]);

finish();
