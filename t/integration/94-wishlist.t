#!/usr/bin/perl
# 94-wishlist.t: the wishlist service through the gateway.
#   Items show the catalogue's current name, price and availability, newest first; adding is
#   idempotent (201, then 200), unknown and withdrawn products are 404, bad fields 400.
#   DELETE removes one item (404 when absent) or all.  move-to-cart adds one unit to the
#   customer's own cart through the cart service, then leaves the wishlist; a product not in
#   the wishlist is 404 and nothing reaches the cart; a cart line already at 100 is 409 and
#   the item stays.  Each customer reaches only their own wishlist.
#   The cart service down: move-to-cart is 503 and the item stays; the product service
#   down: a wishlist with items is 503.  Redis stopped: 503 within a second.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $NEXT_UID = 500_000_000 + int(rand(90_000_000));

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "deseo$id\@example.com",
                                            exp => time + 3600 }) };
}

# As the stack's administrator (the services' Redis users may touch their own keys only).
sub redis_cli { return redis_cmd(@_) }

sub wishlist_of {
    my $c = shift;
    my $r = api('GET', '/api/wishlist', undef, bearer($c->{token}));
    return $r->{status} == 200 ? $r->{json}{data}{wishlist} : undef;
}

sub cart_line {
    my ($c, $id) = @_;
    my $r = api('GET', '/api/cart', undef, bearer($c->{token}));
    return undef unless $r->{status} == 200;
    my ($l) = grep { $_->{productId} eq $id } @{ $r->{json}{data}{cart}{items} };
    return $l;
}

my $list = api('GET', '/api/products?limit=3');
plan skip_all => 'the product service is not part of this stack'
    unless $list->{status} == 200 && @{ $list->{json}{data}{products} || [] } >= 3;
my @P = @{ $list->{json}{data}{products} };
my ($A, $B, $C) = map { $_->{id} } @P;

my $ADMIN = mint_jwt({ sub => '999999997', role => 'admin', exp => time + 7200 });
my $GONE = 'ZW' . uc random_hex(5);
my $made = api('POST', '/api/products', { id => $GONE, name => 'Ramo de prueba de deseos',
    price => 5432, description => 'Un ramo creado para probar la lista de deseos.',
    category => 'pruebas', stock => 5 }, bearer($ADMIN));
is($made->{status}, 201, "test product $GONE created") or diag($made->{raw});
cleanup(sub { api('DELETE', "/api/products/$GONE", undef, bearer($ADMIN)) });

my %ctx = (u => customer(), v => customer());
cleanup(sub { redis_cli('DEL', map { ("wishlist:$_", "cart:$_") } $ctx{u}{id}, $ctx{v}{id}) });

run_blocks([
    {
        name    => 'no token: 401 from the gateway',
        request => ['GET', '/api/wishlist'],
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'a new customer has an empty wishlist',
        request => ['GET', '/api/wishlist'],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { wishlist => { items => [], count => 0 } } },
    },
    {
        name    => 'add: 201',
        request => ['POST', '/api/wishlist/items', { productId => $A, price => 1, name => 'Gratis' }],
        token   => sub { $ctx{u}{token} },
        status  => 201,
        json    => { data => { item => { productId => $A } } },
    },
    {
        name    => 'add again: 200, still one',
        request => ['POST', '/api/wishlist/items', { productId => $A }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        then    => sub { is(wishlist_of($ctx{u})->{count}, 1, 'one item') },
    },
    {
        name    => 'two more',
        then    => sub {
            for my $id ($B, $GONE) {
                Time::HiRes::sleep(0.01);
                is(api('POST', '/api/wishlist/items', { productId => $id }, bearer($ctx{u}{token}))->{status},
                   201, "$id added");
            }
        },
    },
    {
        name    => 'the wishlist shows the catalogue\'s names and prices, newest first',
        request => ['GET', '/api/wishlist'],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { wishlist => { count => 3, items => [
            { productId => $GONE, name => 'Ramo de prueba de deseos', price => 5432, available => sub { $_[0] },
              addedAt => qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/ },
            { productId => $B, name => $P[1]{name}, price => $P[1]{price} },
            { productId => $A, name => $P[0]{name}, price => $P[0]{price} },
        ] } } },
    },
    (map {
        my ($body, $what) = @$_;
        {
            name    => "add: $what: 400",
            request => ['POST', '/api/wishlist/items', $body],
            token   => sub { $ctx{u}{token} },
            status  => 400,
            code    => 'VALIDATION_ERROR',
            fields  => ['productId'],
        }
    } ([{}, 'no productId'], [{ productId => 12 }, 'a number'], [{ productId => 'abc' }, 'lower case'],
       [{ productId => 'A' x 33 }, '33 characters'], [{ productId => '' }, 'empty'])),
    {
        name    => 'an unknown product: 404',
        request => ['POST', '/api/wishlist/items', { productId => 'ZZNOPE' . uc random_hex(4) }],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'the test product withdrawn: shown unavailable, without name nor price',
        then    => sub {
            is(api('DELETE', "/api/products/$GONE", undef, bearer($ADMIN))->{status}, 200, 'withdrawn');
            my ($it) = grep { $_->{productId} eq $GONE } @{ wishlist_of($ctx{u})->{items} };
            json_like($it, { name => undef, price => undef, available => sub { !$_[0] } }, 'shown so');
        },
    },
    {
        name    => 'a withdrawn product cannot be added: 404',
        request => ['POST', '/api/wishlist/items', { productId => $GONE }],
        token   => sub { $ctx{v}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'nor moved to the cart: 404, it stays in the wishlist',
        request => ['POST', "/api/wishlist/items/$GONE/move-to-cart"],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
        then    => sub {
            ok(!cart_line($ctx{u}, $GONE), 'not in the cart');
            is(wishlist_of($ctx{u})->{count}, 3, 'still three');
        },
    },
    # ---- move to cart ---------------------------------------------------------------------
    {
        name    => 'move-to-cart: one unit in the cart, out of the wishlist',
        request => ['POST', "/api/wishlist/items/$A/move-to-cart"],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { cartItem => { productId => $A, quantity => 1 } } },
        then    => sub {
            is(cart_line($ctx{u}, $A)->{quantity}, 1, 'in the cart');
            ok(!grep({ $_->{productId} eq $A } @{ wishlist_of($ctx{u})->{items} }), 'out of the wishlist');
        },
    },
    {
        name    => 'move of a product not in the wishlist: 404, the cart unchanged',
        request => ['POST', "/api/wishlist/items/$A/move-to-cart"],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
        then    => sub { is(cart_line($ctx{u}, $A)->{quantity}, 1, 'still 1') },
    },
    {
        name    => 'move adds to an existing line',
        then    => sub {
            is(api('POST', '/api/cart/items', { productId => $B, quantity => 2 }, bearer($ctx{u}{token}))->{status},
               200, 'two in the cart');
            my $r = api('POST', "/api/wishlist/items/$B/move-to-cart", undef, bearer($ctx{u}{token}));
            is($r->{status}, 200, 'moved');
            is(cart_line($ctx{u}, $B)->{quantity}, 3, 'three now');
        },
    },
    {
        name    => 'a cart line already at 100: 409, the item stays',
        then    => sub {
            is(api('POST', '/api/wishlist/items', { productId => $C }, bearer($ctx{u}{token}))->{status}, 201, 'wished');
            is(api('POST', '/api/cart/items', { productId => $C, quantity => 100 }, bearer($ctx{u}{token}))->{status},
               200, '100 in the cart');
            my $r = api('POST', "/api/wishlist/items/$C/move-to-cart", undef, bearer($ctx{u}{token}));
            envelope_ok($r, 409, 'CART_LIMIT', '409 CART_LIMIT');
            ok(grep({ $_->{productId} eq $C } @{ wishlist_of($ctx{u})->{items} }), 'still wished');
            is(cart_line($ctx{u}, $C)->{quantity}, 100, 'still 100');
        },
    },
    {
        name    => 'another customer\'s wishlist and cart are apart',
        then    => sub {
            is(wishlist_of($ctx{v})->{count}, 0, 'their wishlist is empty');
            is(api('POST', "/api/wishlist/items/$C/move-to-cart", undef, bearer($ctx{v}{token}))->{status},
               404, 'they cannot move the first customer\'s item');
            ok(!cart_line($ctx{v}, $C), 'nothing in their cart');
        },
    },
    # ---- delete ---------------------------------------------------------------------------
    {
        name    => 'DELETE an item: 204',
        request => ['DELETE', "/api/wishlist/items/$C"],
        token   => sub { $ctx{u}{token} },
        status  => 204,
        raw     => 1,
    },
    {
        name    => 'DELETE it again: 404',
        request => ['DELETE', "/api/wishlist/items/$C"],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'DELETE all: 204, then empty',
        request => ['DELETE', '/api/wishlist'],
        token   => sub { $ctx{u}{token} },
        status  => 204,
        raw     => 1,
        then    => sub { is(wishlist_of($ctx{u})->{count}, 0, 'empty') },
    },
    # ---- the cart and product services stopped --------------------------------------------
    {
        name    => 'one item again',
        request => ['POST', '/api/wishlist/items', { productId => $A }],
        token   => sub { $ctx{u}{token} },
        status  => 201,
    },
    {
        name => 'stop the cart service',
        then => sub { is(stop_component('cart')->{rc}, 0, './flores stop cart') },
    },
    {
        # Protects: nothing leaves the wishlist unless the cart took it.
        name    => 'move-to-cart without the cart service: 503, the item stays',
        request => ['POST', "/api/wishlist/items/$A/move-to-cart"],
        token   => sub { $ctx{u}{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        then    => sub { is(wishlist_of($ctx{u})->{count}, 1, 'still wished') },
    },
    {
        name => 'start the cart service',
        then => sub { is(start_component('cart')->{rc}, 0, './flores start cart') },
    },
    {
        name => 'stop the product service',
        then => sub { is(stop_component('product')->{rc}, 0, './flores stop product') },
    },
    {
        name    => 'a wishlist with items cannot be shown without the catalogue: 503',
        request => ['GET', '/api/wishlist'],
        token   => sub { $ctx{u}{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
    },
    {
        name    => 'removing an item does not need it',
        request => ['DELETE', "/api/wishlist/items/$A"],
        token   => sub { $ctx{u}{token} },
        status  => 204,
        raw     => 1,
    },
    {
        name => 'start the product service',
        then => sub { is(start_component('product')->{rc}, 0, './flores start product') },
    },
    # ---- Redis stopped --------------------------------------------------------------------
    {
        name => 'stop Redis',
        then => sub { is(stop_component('redis')->{rc}, 0, './flores stop redis') },
    },
    {
        name    => 'read while Redis is down: 503 within a second',
        request => ['GET', '/api/wishlist'],
        token   => sub { $ctx{u}{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
    },
    {
        name => 'start Redis; the service serves again by itself',
        then => sub {
            is(start_component('redis')->{rc}, 0, './flores start redis');
            my @st = map { api('GET', '/api/wishlist', undef, bearer($ctx{u}{token}))->{status} } 1 .. 10;
            is_deeply(\@st, [(200) x 10], 'ten reads: 200');
        },
    },
]);

use Time::HiRes ();
finish();
