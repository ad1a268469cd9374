#!/usr/bin/perl
# 93-cart.t: the cart service through the gateway.
#   Names, prices and availability come from the catalogue on every read; names and prices a
#   client sends are ignored.  Adding adds to an existing line, a line holds at most 100 units
#   (more is refused, nothing changes), unknown and withdrawn products are 404, every bad field
#   is a 400 VALIDATION_ERROR.  PUT sets a line (0 removes it; an absent line is 404), DELETE
#   removes a line or the whole cart.
#   Each customer reaches only their own cart; the route other services use to add for a user
#   is not reachable from the public listener, nor by customers.
#   Concurrent adds lose nothing: 20 parallel adds of different products make 20 lines, 20
#   parallel adds of one product make one line with their exact sum.
#   Every change makes the cart live 30 days (Redis TTL).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $NEXT_UID = 700_000_000 + int(rand(90_000_000));

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "carro$id\@example.com",
                                            exp => time + 3600 }) };
}

# As the stack's administrator (the services' Redis users may touch their own keys only).
sub redis_cli { return redis_cmd(@_) }

sub cart_of {
    my $c = shift;
    my $r = api('GET', '/api/cart', undef, bearer($c->{token}));
    return $r->{status} == 200 ? $r->{json}{data}{cart} : undef;
}

sub line_of {
    my ($cart, $id) = @_;
    my ($l) = grep { $_->{productId} eq $id } @{ $cart->{items} || [] };
    return $l;
}

# Active products of the catalogue with their current name and price.
my $list = api('GET', '/api/products?limit=40');
my @CATALOG = $list->{status} == 200 ? @{ $list->{json}{data}{products} || [] } : ();
plan skip_all => 'the product service has fewer than 21 products' if @CATALOG < 21;
my %PRODUCT = map { $_->{id} => $_ } @CATALOG;
my ($A, $B) = map { $_->{id} } @CATALOG[0, 1];

# A product of the test's own, withdrawn by an administrator: no longer in the catalogue.
my $ADMIN = mint_jwt({ sub => '999999998', role => 'admin', exp => time + 7200 });
my $GONE = 'ZC' . uc random_hex(5);
my $made = api('POST', '/api/products', { id => $GONE, name => 'Ramo de prueba del carrito',
    price => 12345, description => 'Un ramo creado para probar el carrito.', category => 'pruebas',
    stock => 50 }, bearer($ADMIN));
is($made->{status}, 201, "test product $GONE created") or diag($made->{raw});
cleanup(sub { api('DELETE', "/api/products/$GONE", undef, bearer($ADMIN)) });

my %ctx = (u => customer(), v => customer());
cleanup(sub { redis_cli('DEL', "cart:$ctx{u}{id}", "cart:$ctx{v}{id}", "cart:$ctx{w}{id}",
                        "cart:$ctx{x}{id}") });

run_blocks([
    {
        name    => 'no token: 401 from the gateway',
        request => ['GET', '/api/cart'],
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        # Protects: a key is never made of whatever the token's subject says.
        name    => 'a token whose subject is not a user id: 401',
        request => ['GET', '/api/cart'],
        token   => mint_jwt({ sub => 'cart:1', exp => time + 600 }),
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'a new customer has an empty cart',
        request => ['GET', '/api/cart'],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { cart => { items => [], total => 0, count => 0 } } },
    },
    {
        # Protects: prices and names come from the catalogue, never from the client.
        name    => 'add with a forged price and name: accepted, both ignored',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 2, price => 1,
                                                 name => 'Gratis', lineTotal => 2 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { item => { productId => $A, quantity => 2 } } },
    },
    {
        name    => 'adding again adds to the line',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 3 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { item => { productId => $A, quantity => 5 } } },
    },
    {
        name    => 'a second product',
        request => ['POST', '/api/cart/items', { productId => $B, quantity => 1 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
    },
    {
        name    => 'the cart shows the catalogue\'s names and prices',
        request => ['GET', '/api/cart'],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        then    => sub {
            my ($res) = @_;
            my $cart = $res->{json}{data}{cart};
            my @ids = sort ($A, $B);
            is_deeply([map { $_->{productId} } @{ $cart->{items} }], \@ids, 'two lines, by product id');
            my $la = line_of($cart, $A);
            is($la->{name}, $PRODUCT{$A}{name}, 'name from the catalogue');
            is($la->{price}, $PRODUCT{$A}{price}, 'price from the catalogue');
            is($la->{quantity}, 5, 'quantity');
            is($la->{lineTotal}, 5 * $PRODUCT{$A}{price}, 'lineTotal');
            ok(JSON::PP::is_bool($la->{available}), 'available is a boolean');
            my $total = 0;
            $total += $_->{lineTotal} for grep { $_->{available} } @{ $cart->{items} };
            is($cart->{total}, $total, 'total adds the available lines');
            is($cart->{count}, 6, 'count is every unit');
        },
    },
    {
        name    => 'the cart lives 30 days after a change',
        then    => sub {
            my $ttl = redis_cli('TTL', "cart:$ctx{u}{id}");
            ok($ttl > 30 * 86400 - 120 && $ttl <= 30 * 86400, "TTL $ttl is about 30 days");
            is(redis_cli('HGET', "cart:$ctx{u}{id}", $A), 5, 'the line as a hash field');
        },
    },
    # ---- bounds ---------------------------------------------------------------------------
    {
        # Protects: a line never holds more than 100 units; a refused add changes nothing.
        name    => 'a line over 100 units: 400 on quantity, nothing changes',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 96 }],
        token   => sub { $ctx{u}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['quantity'],
        then    => sub { is(line_of(cart_of($ctx{u}), $A)->{quantity}, 5, 'still 5') },
    },
    {
        name    => 'up to exactly 100 units',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 95 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { item => { quantity => 100 } } },
    },
    (map {
        my ($body, $fields, $what) = @$_;
        {
            name    => "add: $what: 400",
            request => ['POST', '/api/cart/items', $body],
            token   => sub { $ctx{u}{token} },
            status  => 400,
            code    => 'VALIDATION_ERROR',
            fields  => $fields,
        }
    } (
        [{}, ['productId', 'quantity'], 'empty body'],
        [{ productId => $A }, ['quantity'], 'no quantity'],
        [{ quantity => 1 }, ['productId'], 'no productId'],
        [{ productId => $A, quantity => 0 }, ['quantity'], 'quantity 0'],
        [{ productId => $A, quantity => 101 }, ['quantity'], 'quantity 101'],
        [{ productId => $A, quantity => -1 }, ['quantity'], 'negative quantity'],
        [{ productId => $A, quantity => 1.5 }, ['quantity'], 'fractional quantity'],
        [{ productId => $A, quantity => '2' }, ['quantity'], 'quantity as text'],
        [{ productId => 7, quantity => 1 }, ['productId'], 'productId a number'],
        [{ productId => 'aml001', quantity => 1 }, ['productId'], 'productId lower case'],
        [{ productId => 'A' x 33, quantity => 1 }, ['productId'], 'productId of 33'],
        [{ productId => '', quantity => 1 }, ['productId'], 'empty productId'],
        [{ productId => 'AB/../C', quantity => 1 }, ['productId'], 'productId with a slash'],
    )),
    {
        name    => 'malformed JSON: 400 INVALID_JSON',
        request => ['POST', '/api/cart/items', '{"productId":'],
        token   => sub { $ctx{u}{token} },
        status  => 400,
        code    => 'INVALID_JSON',
    },
    {
        name    => 'an unknown product: 404',
        request => ['POST', '/api/cart/items', { productId => 'ZZNOPE' . uc random_hex(4), quantity => 1 }],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'the test product can be added while it is in the catalogue',
        request => ['POST', '/api/cart/items', { productId => $GONE, quantity => 2 }],
        token   => sub { $ctx{v}{token} },
        status  => 200,
    },
    {
        name    => 'withdraw it',
        then    => sub {
            is(api('DELETE', "/api/products/$GONE", undef, bearer($ADMIN))->{status}, 200,
               'withdrawn') or 1;
        },
    },
    {
        name    => 'a withdrawn product: 404',
        request => ['POST', '/api/cart/items', { productId => $GONE, quantity => 1 }],
        token   => sub { $ctx{v}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'a line of a withdrawn product: shown unavailable, without name nor price, out of the total',
        request => ['GET', '/api/cart'],
        token   => sub { $ctx{v}{token} },
        status  => 200,
        json    => { data => { cart => { items => [ { productId => $GONE, name => undef,
                     price => undef, quantity => 2, lineTotal => 0, available => sub { !$_[0] } } ],
                     total => 0, count => 2 } } },
    },
    # ---- PUT and DELETE -------------------------------------------------------------------
    {
        name    => 'PUT sets the quantity',
        request => ['PUT', "/api/cart/items/$B", { quantity => 7, price => 1 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        json    => { data => { item => { productId => $B, quantity => 7 } } },
        then    => sub { is(line_of(cart_of($ctx{u}), $B)->{quantity}, 7, 'read back') },
    },
    (map {
        my ($body, $what) = @$_;
        {
            name    => "PUT: $what: 400",
            request => ['PUT', "/api/cart/items/$B", $body],
            token   => sub { $ctx{u}{token} },
            status  => 400,
            code    => 'VALIDATION_ERROR',
            fields  => ['quantity'],
        }
    } ([{}, 'no quantity'], [{ quantity => 101 }, 'quantity 101'], [{ quantity => -1 }, 'negative'],
       [{ quantity => 'x' }, 'text'], [{ quantity => undef }, 'null'])),
    {
        name    => 'PUT of a line that is not in the cart: 404',
        request => ['PUT', "/api/cart/items/$CATALOG[5]{id}", { quantity => 1 }],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'PUT of a malformed product id: 404',
        request => ['PUT', '/api/cart/items/bad%20id', { quantity => 1 }],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'PUT 0 removes the line',
        request => ['PUT', "/api/cart/items/$B", { quantity => 0 }],
        token   => sub { $ctx{u}{token} },
        status  => 200,
        then    => sub { ok(!line_of(cart_of($ctx{u}), $B), 'gone') },
    },
    {
        name    => 'DELETE of an absent line: 404',
        request => ['DELETE', "/api/cart/items/$B"],
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'DELETE a line: 204',
        request => ['DELETE', "/api/cart/items/$A"],
        token   => sub { $ctx{u}{token} },
        status  => 204,
        raw     => 1,
        then    => sub { is_deeply(cart_of($ctx{u})->{items}, [], 'empty') },
    },
    # ---- ownership ------------------------------------------------------------------------
    {
        name    => 'another customer\'s cart is untouched by all this',
        request => ['GET', '/api/cart'],
        token   => sub { $ctx{v}{token} },
        status  => 200,
        then    => sub {
            my ($res) = @_;
            is_deeply([map { $_->{productId} } @{ $res->{json}{data}{cart}{items} }], [$GONE],
                      'only their own line');
        },
    },
    {
        # Protects: the route for other services is not a way into someone else's cart.
        name    => 'the services\' route from the public listener: 404, nothing added',
        request => sub { ['POST', "/api/cart/internal/users/$ctx{v}{id}/items", { productId => $A, quantity => 1 }] },
        token   => sub { $ctx{u}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
        then    => sub { is(scalar @{ cart_of($ctx{v})->{items} }, 1, 'their cart unchanged') },
    },
    {
        name    => 'the services\' route through the internal listener adds for the named user',
        request => sub { ['POST', "$ENV{FLORES_INTERNAL_URL}/internal/cart/api/cart/internal/users/$ctx{v}{id}/items",
                          { productId => $A, quantity => 1 }] },
        status  => 200,
        json    => { data => { item => { productId => $A, quantity => 1 } } },
    },
    {
        name    => 'the services\' read of a cart: its lines as stored',
        request => sub { ['GET', "$ENV{FLORES_INTERNAL_URL}/internal/cart/api/cart/internal/users/$ctx{v}{id}"] },
        status  => 200,
        json    => { data => { cart => { items => [ { productId => $A, quantity => 1 },
                                                    { productId => $GONE, quantity => 2 } ], count => 3 } } },
        skip    => ($A lt $GONE ? undef : 'the catalogue\'s first product sorts after the test product'),
    },
    {
        name    => 'the services\' read from the public listener: 404',
        request => sub { ['GET', "/api/cart/internal/users/$ctx{v}{id}"] },
        token   => sub { $ctx{v}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'a customer\'s token on the services\' routes through the public listener: 404, nothing emptied',
        request => sub { ['DELETE', "/api/cart/internal/users/$ctx{v}{id}"] },
        token   => sub { $ctx{v}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
        then    => sub { is(scalar @{ cart_of($ctx{v})->{items} }, 2, 'still two lines') },
    },
    {
        name    => 'the services\' emptying through the internal listener: 204',
        request => sub { ['DELETE', "$ENV{FLORES_INTERNAL_URL}/internal/cart/api/cart/internal/users/$ctx{v}{id}"] },
        status  => 204,
        raw     => 1,
        then    => sub { is_deeply(cart_of($ctx{v})->{items}, [], 'empty') },
    },
    {
        name    => 'again a line for the next block',
        request => ['POST', '/api/cart/items', { productId => $A, quantity => 1 }],
        token   => sub { $ctx{v}{token} },
        status  => 200,
    },
    {
        name    => 'DELETE the whole cart: 204, then empty',
        request => ['DELETE', '/api/cart'],
        token   => sub { $ctx{v}{token} },
        status  => 204,
        raw     => 1,
        then    => sub {
            is_deeply(cart_of($ctx{v})->{items}, [], 'empty');
            is(redis_cli('EXISTS', "cart:$ctx{v}{id}"), 0, 'no key left');
        },
    },
    # ---- concurrency ----------------------------------------------------------------------
    {
        # Protects: concurrent adds never lose a line (no read-modify-write of the cart).
        name    => '20 parallel adds of different products: 20 lines',
        then    => sub {
            $ctx{w} = customer();
            my @ids = map { $_->{id} } @CATALOG[0 .. 19];
            my @st = parallel(map { my $id = $_; sub {
                api('POST', '/api/cart/items', { productId => $id, quantity => 2 }, bearer($ctx{w}{token}))
            } } @ids);
            is_deeply(\@st, [(200) x 20], 'all 200');
            my $cart = cart_of($ctx{w});
            is_deeply([sort map { $_->{productId} } @{ $cart->{items} }], [sort @ids], '20 lines');
            is_deeply([map { $_->{quantity} } @{ $cart->{items} }], [(2) x 20], '2 each');
        },
    },
    {
        name    => '20 parallel adds of one product: one line with the exact sum',
        then    => sub {
            $ctx{x} = customer();
            my @st = parallel(map { my $q = $_; sub {
                api('POST', '/api/cart/items', { productId => $A, quantity => $q }, bearer($ctx{x}{token}))
            } } (1 .. 5) x 4);
            is_deeply(\@st, [(200) x 20], 'all 200');
            my $cart = cart_of($ctx{x});
            is(scalar @{ $cart->{items} }, 1, 'one line');
            is($cart->{items}[0]{quantity}, 60, '4 x (1+2+3+4+5)');
        },
    },
    {
        name    => 'parallel adds past the bound: exactly the ones that fit are taken',
        then    => sub {
            # 60 units in the line: of 10 parallel adds of 10, four fit.
            my @st = parallel(map { sub {
                api('POST', '/api/cart/items', { productId => $A, quantity => 10 }, bearer($ctx{x}{token}))
            } } 1 .. 10);
            is(scalar(grep { $_ == 200 } @st), 4, 'four 200');
            is(scalar(grep { $_ == 400 } @st), 6, 'six 400');
            is(line_of(cart_of($ctx{x}), $A)->{quantity}, 100, 'exactly 100');
        },
    },
]);

# Runs each code reference in its own process at the same time; their HTTP statuses in order.
sub parallel {
    my @subs = @_;
    my @pipes;
    for my $s (@subs) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $res = $s->();
            print {$w} $res->{status};
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [$pid, $r];
    }
    my @st;
    for my $p (@pipes) {
        my $fh = $p->[1];
        my $v = do { local $/; <$fh> } // '';
        waitpid $p->[0], 0;
        push @st, $v eq '' ? 0 : $v + 0;
    }
    return @st;
}

use POSIX ();
finish();
