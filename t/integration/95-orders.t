#!/usr/bin/perl
# 95-orders.t: the order service through the gateway: creating orders from explicit items
# (names and prices from the catalogue whatever the client sends, duplicates merged,
# shipping and totals computed, numbers FV-YYYYMMDD-NNNNN), every bad field, the caller's
# own orders only (another customer's is 404), the status lifecycle (invalid transitions
# 409), cancelling gives stock back, Idempotency-Key (ten concurrent retries: one order, ten
# identical answers), and stock never oversold: 40 customers racing for 5 units, and a
# multi-item order whose last item runs out leaves nothing reserved.
#
# Needs the product service: the file creates products of its own and withdraws them at
# the end.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();
use POSIX ();

my $JSON = JSON::PP->new->utf8->canonical;
my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;

# ---- callers -------------------------------------------------------------------------------
# Subjects far above any registered user's id, distinct in forked children too.
my $NEXT_UID = 0;

sub customer {
    my $id = 500_000_000 + ($$ % 100_000) * 4000 + ($NEXT_UID++ % 4000);
    return { id => $id, token => mint_jwt({ sub => "$id", email => "cliente$id\@example.com",
                                            exp => time + 3600 }) };
}

sub admin {
    my $id = 500_000_000 + ($$ % 100_000) * 4000 + ($NEXT_UID++ % 4000);
    return { id => $id, token => mint_jwt({ sub => "$id", email => "admin$id\@example.com",
                                            role => 'admin', exp => time + 3600 }) };
}

my $ADMIN = admin()->{token};

# ---- products of the file's own ----------------------------------------------------------
sub new_product {
    my ($tag, $price, $stock) = @_;
    my $id = 'ZO' . $tag . uc random_hex(4);
    my $r = api('POST', '/api/products', { id => $id, name => "Ramo de pedido $tag", price => $price,
        description => 'Un ramo creado para probar los pedidos.', category => 'pruebas' }, bearer($ADMIN));
    die "cannot create the test product $id: $r->{status} $r->{raw}" unless $r->{status} == 201;
    set_stock($id, $stock);
    cleanup(sub { api('DELETE', "/api/products/$id", undef, bearer($ADMIN)) });
    return $id;
}

sub set_stock {
    my ($id, $stock) = @_;
    my $r = api('PATCH', "/api/products/$id/stock", { stock => $stock }, bearer($ADMIN));
    die "cannot set the stock of $id: $r->{status} $r->{raw}" unless $r->{status} == 200;
}

sub stock_of {
    my $id = shift;
    my $r = internal_api('GET', "/internal/product/api/products/$id");
    return ref $r->{json} eq 'HASH' ? $r->{json}{data}{product}{stock} : undef;
}

my $P1 = new_product('A', 12990, 50);
my $P2 = new_product('B', 4500, 50);
my $P3 = new_product('C', 30000, 50);

my $ADDR = { recipient => 'Ana Pérez', street => 'Av. Providencia 1234', city => 'Santiago',
             region => 'Metropolitana', postalCode => '7500000', phone => '+56912345678' };

sub order_body {
    my (%o) = @_;
    return { items => [{ productId => $P1, quantity => 1 }], shippingAddress => $ADDR,
             paymentMethod => 'webpay', %o };
}

sub order_of { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{data}{order} : undef }

sub today_plus {
    my $days = shift;
    my $d = pg_value(q{SELECT to_char((now() AT TIME ZONE 'America/Santiago')::date + $1::int, 'YYYY-MM-DD')}, $days);
    return $d;
}

# Runs $n copies of $code at once (forked); each returns a string; the strings in order.
sub concurrently {
    my ($n, $code) = @_;
    my @pipes;
    for my $k (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $out = eval { $code->($k) } // '';
            $out =~ s/\n/ /g;
            print {$w} "$out\n";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [$pid, $r];
    }
    my @out;
    for my $p (@pipes) {
        my $fh = $p->[1];
        my $line = <$fh> // "\n";
        chomp $line;
        push @out, $line;
        waitpid $p->[0], 0;
    }
    return @out;
}

my %ctx;
my $ALICE = customer();
my $BOB = customer();

run_blocks([
    # ---- creating ----------------------------------------------------------------------------
    {
        name    => 'an order from explicit items: 201, prices and names from the catalogue, '
                 . 'duplicates merged, shipping and totals computed, client prices ignored',
        request => sub { ['POST', '/api/orders', {
            items => [ { productId => $P2, quantity => 2, price => 1, name => 'gratis' },
                       { productId => $P1, quantity => 1, price => 1 },
                       { productId => $P2, quantity => 1, lineTotal => 1 } ],
            shippingAddress => $ADDR, paymentMethod => 'transfer', deliveryDate => today_plus(3),
            notes => "Tocar el timbre\ndos veces", subtotal => 1, total => 1, shipping => 0,
            status => 'delivered', userId => 1 }] },
        token   => sub { $ALICE->{token} },
        status  => 201,
        json    => { data => { order => {
            number => qr/^FV-\d{8}-\d{5}\z/, userId => sub { $_[0] == $ALICE->{id} },
            status => 'pending', currency => 'CLP',
            items => [ { productId => $P1, name => 'Ramo de pedido A', price => 12990, quantity => 1, lineTotal => 12990 },
                       { productId => $P2, name => 'Ramo de pedido B', price => 4500, quantity => 3, lineTotal => 13500 } ],
            subtotal => 26490, shipping => 3990, total => 30480,
            shippingAddress => { recipient => 'Ana Pérez', city => 'Santiago' },
            paymentMethod => 'transfer', notes => "Tocar el timbre\ndos veces",
            statusHistory => [ { status => 'pending', at => $ISO } ], createdAt => $ISO } } },
        then    => sub {
            my ($res, $ctx) = @_;
            $ctx->{a1} = order_of($res);
            is(stock_of($P1), 49, 'one of A reserved');
            is(stock_of($P2), 47, 'three of B reserved');
        },
    },
    {
        name    => 'from 50.000 CLP of subtotal shipping is free',
        request => sub { ['POST', '/api/orders', order_body(items => [{ productId => $P3, quantity => 2 }])] },
        token   => sub { $ALICE->{token} },
        status  => 201,
        json    => { data => { order => { subtotal => 60000, shipping => 0, total => 60000 } } },
        then    => sub { $_[1]{a2} = order_of($_[0]) },
    },
    {
        name    => 'numbers follow each other within a day',
        then    => sub {
            my ($n1) = $ctx{a1}{number} =~ /-(\d{5})\z/;
            my ($n2) = $ctx{a2}{number} =~ /-(\d{5})\z/;
            cmp_ok($n2, '>', $n1, "$ctx{a2}{number} after $ctx{a1}{number}");
        },
    },
    {
        name    => 'an unknown product: 404 PRODUCT_NOT_FOUND, nothing created',
        request => ['POST', '/api/orders', order_body(items => [{ productId => 'ZZNOPE' . uc random_hex(4), quantity => 1 }])],
        token   => sub { $BOB->{token} },
        status  => 404,
        code    => 'PRODUCT_NOT_FOUND',
        then    => sub { is(pg_value('SELECT count(*) FROM orders.orders WHERE user_id = $1', $BOB->{id}), 0, 'no row') },
    },
    {
        name    => 'anonymous: 401 at the gateway',
        request => ['POST', '/api/orders', order_body()],
        status  => 401,
        code    => 'UNAUTHORIZED',
    },

    # ---- validation --------------------------------------------------------------------------
    {
        name    => 'every bad field at once',
        request => ['POST', '/api/orders', { items => [ { productId => 'a b', quantity => 0 }, { quantity => 101 } ],
            shippingAddress => { street => 1, city => 'S' }, deliveryDate => '2026-02-30',
            paymentMethod => 'bitcoin', notes => 'x' x 501 }],
        token   => sub { $BOB->{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [ 'items[0].quantity', 'items[1].productId', 'items[1].quantity',
                     'shippingAddress.recipient', 'shippingAddress.street', 'shippingAddress.city',
                     'shippingAddress.region', 'shippingAddress.phone', 'deliveryDate',
                     'paymentMethod', 'notes' ],
    },
    {
        name    => 'a malformed product id',
        request => ['POST', '/api/orders', order_body(items => [{ productId => 'abc$', quantity => 1 }])],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['items[0].productId'],
    },
    {
        name    => 'no lines, 51 lines',
        request => ['POST', '/api/orders', order_body(items => [])],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['items'],
    },
    {
        name    => '51 lines',
        request => ['POST', '/api/orders', order_body(items => [ map { { productId => "P$_", quantity => 1 } } 1 .. 51 ])],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['items'],
    },
    {
        name    => 'duplicates merged above 100',
        request => ['POST', '/api/orders', order_body(items => [ { productId => $P1, quantity => 60 }, { productId => $P1, quantity => 41 } ])],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['items[1].quantity'],
    },
    {
        name    => 'both addressId and shippingAddress',
        request => ['POST', '/api/orders', order_body(addressId => 3)],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['shippingAddress'],
    },
    {
        name    => 'paymentMethod missing',
        request => ['POST', '/api/orders', { items => [{ productId => $P1, quantity => 1 }], shippingAddress => $ADDR }],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['paymentMethod'],
    },
    {
        name    => 'neither addressId nor shippingAddress',
        request => ['POST', '/api/orders', { items => [{ productId => $P1, quantity => 1 }], paymentMethod => 'cash' }],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['shippingAddress'],
    },
    {
        name    => 'a delivery date in the past',
        request => sub { ['POST', '/api/orders', order_body(deliveryDate => today_plus(-1))] },
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['deliveryDate'],
    },
    {
        name    => 'a delivery date 91 days away',
        request => sub { ['POST', '/api/orders', order_body(deliveryDate => today_plus(91))] },
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['deliveryDate'],
    },
    {
        name    => 'wrong types',
        request => ['POST', '/api/orders', { items => 'todo', shippingAddress => [], paymentMethod => 1, notes => {} }],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['items', 'shippingAddress', 'paymentMethod', 'notes'],
    },
    {
        name    => 'a control character in notes',
        request => ['POST', '/api/orders', order_body(notes => "hola\x01")],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['notes'],
    },
    {
        name    => 'malformed JSON',
        request => ['POST', '/api/orders', '{"items": ['],
        token   => sub { $BOB->{token} },
        status  => 400, code => 'INVALID_JSON',
    },
    {
        name    => 'a bad Idempotency-Key',
        request => ['POST', '/api/orders', order_body()],
        headers => { 'Idempotency-Key' => 'a' x 65 },
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['Idempotency-Key'],
    },
    {
        name    => 'a bad Idempotency-Key (characters)',
        request => ['POST', '/api/orders', order_body()],
        headers => { 'Idempotency-Key' => 'clave con espacios' },
        token   => sub { $BOB->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['Idempotency-Key'],
    },

    # ---- reading -----------------------------------------------------------------------------
    {
        name    => 'the owner reads an order',
        request => sub { ['GET', "/api/orders/$ctx{a1}{id}"] },
        token   => sub { $ALICE->{token} },
        status  => 200,
        json    => sub { 1 },
        then    => sub { is_deeply(order_of($_[0]), $ctx{a1}, 'as created') },
    },
    {
        name    => 'another customer: 404, never 403',
        request => sub { ['GET', "/api/orders/$ctx{a1}{id}"] },
        token   => sub { $BOB->{token} },
        status  => 404, code => 'NOT_FOUND',
    },
    {
        name    => 'an administrator reads any order',
        request => sub { ['GET', "/api/orders/$ctx{a1}{id}"] },
        token   => sub { $ADMIN },
        status  => 200,
    },
    {
        name    => 'not an id: 404',
        request => ['GET', '/api/orders/abc'],
        token   => sub { $ALICE->{token} },
        status  => 404, code => 'NOT_FOUND',
    },
    {
        name    => 'own orders, newest first, paginated',
        request => ['GET', '/api/orders?limit=1&page=1'],
        token   => sub { $ALICE->{token} },
        status  => 200,
        json    => { data => { pagination => { page => 1, limit => 1, total => 2, pages => 2 } } },
        then    => sub { is($_[0]{json}{data}{orders}[0]{id}, $ctx{a2}{id}, 'the newest first') },
    },
    {
        name    => 'another customer sees none of them',
        request => ['GET', '/api/orders'],
        token   => sub { $BOB->{token} },
        status  => 200,
        json    => { data => { orders => [], pagination => { total => 0 } } },
    },
    {
        name    => 'a bad limit',
        request => ['GET', '/api/orders?limit=101'],
        token   => sub { $ALICE->{token} },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['limit'],
    },
    {
        name    => 'all orders: customers 403',
        request => ['GET', '/api/orders/all'],
        token   => sub { $ALICE->{token} },
        status  => 403, code => 'FORBIDDEN',
    },
    {
        name    => 'all orders by status: administrators',
        request => ['GET', '/api/orders/all?status=pending&limit=100'],
        token   => sub { $ADMIN },
        status  => 200,
        then    => sub {
            my $o = $_[0]{json}{data}{orders};
            ok(!grep({ $_->{status} ne 'pending' } @$o), 'pending only');
            ok(grep({ $_->{id} == $ctx{a1}{id} } @$o) || $_[0]{json}{data}{pagination}{total} > 100, 'ours among them');
        },
    },
    {
        name    => 'all orders: a bad status',
        request => ['GET', '/api/orders/all?status=lost'],
        token   => sub { $ADMIN },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['status'],
    },

    # ---- lifecycle ---------------------------------------------------------------------------
    {
        name    => 'customers cannot change a status: 403',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'confirmed' }] },
        token   => sub { $ALICE->{token} },
        status  => 403, code => 'FORBIDDEN',
    },
    {
        name    => 'pending → shipped skips steps: 409 INVALID_TRANSITION',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'shipped' }] },
        token   => sub { $ADMIN },
        status  => 409, code => 'INVALID_TRANSITION',
    },
    {
        name    => 'a status that does not exist',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'lost' }] },
        token   => sub { $ADMIN },
        status  => 400, code => 'VALIDATION_ERROR', fields => ['status'],
    },
    {
        name    => 'pending → confirmed',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'confirmed' }] },
        token   => sub { $ADMIN },
        status  => 200,
        json    => { data => { order => { status => 'confirmed',
            statusHistory => [ { status => 'pending' }, { status => 'confirmed', at => $ISO } ] } } },
    },
    {
        name    => 'confirmed → confirmed again: 409',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'confirmed' }] },
        token   => sub { $ADMIN },
        status  => 409, code => 'INVALID_TRANSITION',
    },
    {
        name    => 'another customer cannot cancel it: 404',
        request => sub { ['POST', "/api/orders/$ctx{a1}{id}/cancel"] },
        token   => sub { $BOB->{token} },
        status  => 404, code => 'NOT_FOUND',
    },
    {
        name    => 'the owner cancels a confirmed order: stock given back',
        request => sub { ['POST', "/api/orders/$ctx{a1}{id}/cancel"] },
        token   => sub { $ALICE->{token} },
        status  => 200,
        json    => { data => { order => { status => 'cancelled' } } },
        then    => sub {
            is(stock_of($P1), 50, 'A back');
            is(stock_of($P2), 50, 'B back');
        },
    },
    {
        name    => 'cancelled is final: 409',
        request => sub { ['PATCH', "/api/orders/$ctx{a1}{id}/status", { status => 'confirmed' }] },
        token   => sub { $ADMIN },
        status  => 409, code => 'INVALID_TRANSITION',
    },
    {
        name    => 'cancelling twice: 409, stock unchanged',
        request => sub { ['POST', "/api/orders/$ctx{a1}{id}/cancel"] },
        token   => sub { $ALICE->{token} },
        status  => 409, code => 'INVALID_TRANSITION',
        then    => sub { is(stock_of($P1), 50, 'A unchanged') },
    },
    {
        name    => 'the whole way to delivered',
        then    => sub {
            my $id = $ctx{a2}{id};
            for my $s (qw(confirmed preparing)) {
                my $r = api('PATCH', "/api/orders/$id/status", { status => $s }, bearer($ADMIN));
                is($r->{status}, 200, $s);
            }
            my $r = api('POST', "/api/orders/$id/cancel", undef, bearer($ALICE->{token}));
            is($r->{status}, 409, 'the owner cannot cancel an order being prepared');
            is($r->{json}{code}, 'INVALID_TRANSITION', 'INVALID_TRANSITION');
            for my $s (qw(shipped delivered)) {
                $r = api('PATCH', "/api/orders/$id/status", { status => $s }, bearer($ADMIN));
                is($r->{status}, 200, $s);
            }
            is_deeply([ map { $_->{status} } @{ order_of($r)->{statusHistory} } ],
                      [qw(pending confirmed preparing shipped delivered)], 'the history');
            $r = api('POST', "/api/orders/$id/cancel", undef, bearer($ADMIN));
            is($r->{status}, 409, 'not even an administrator cancels a delivered order');
            is(stock_of($P3), 48, 'a delivered order keeps its stock');
        },
    },
    {
        name    => 'an administrator cancels a shipped order: stock back',
        then    => sub {
            my $r = api('POST', '/api/orders', order_body(items => [{ productId => $P3, quantity => 1 }]), bearer($BOB->{token}));
            is($r->{status}, 201, 'created');
            my $id = order_of($r)->{id};
            for my $s (qw(confirmed preparing shipped)) {
                api('PATCH', "/api/orders/$id/status", { status => $s }, bearer($ADMIN));
            }
            is(stock_of($P3), 47, 'taken');
            $r = api('PATCH', "/api/orders/$id/status", { status => 'cancelled' }, bearer($ADMIN));
            is($r->{status}, 200, 'cancelled');
            is(stock_of($P3), 48, 'given back');
            is(pg_value('SELECT stage FROM orders.orders WHERE id = $1', $id), 'released', 'released');
        },
    },
    {
        name    => 'the events of the lifecycle are in the outbox with what the mailer and reviews need',
        then    => sub {
            my $rows = pg(q{SELECT type, payload FROM orders.outbox
                            WHERE (payload->>'orderId')::bigint = $1 ORDER BY id}, $ctx{a2}{id});
            is_deeply([ map { $_->[0] } @$rows ],
                      [ 'order.created', ('order.status_changed') x 4 ], 'created, then each change');
            my $d = $JSON->decode($rows->[-1][1]);
            json_like($d, { orderId => $ctx{a2}{id}, number => $ctx{a2}{number}, userId => $ALICE->{id},
                email => "cliente$ALICE->{id}\@example.com", status => 'delivered', total => 60000,
                items => [ { productId => $P3, name => 'Ramo de pedido C', quantity => 2, price => 30000,
                             lineTotal => 60000 } ] }, 'the delivered event');
        },
    },

    # ---- the cart -----------------------------------------------------------------------------
    {
        name    => 'without items the cart is ordered and emptied',
        skip    => (internal_api('GET', '/internal/cart/api/cart/internal/users/1')->{status} == 200 ? undef
                    : 'the cart service does not offer GET /api/cart/internal/users/:userId in this stack'),
        then    => sub {
            my $c = customer();
            for my $line ([$P1, 2], [$P3, 1]) {
                my $r = internal_api('POST', "/internal/cart/api/cart/internal/users/$c->{id}/items",
                                     { productId => $line->[0], quantity => $line->[1] });
                ok($r->{status} == 200 || $r->{status} == 201, "$line->[0] in the cart") or diag($r->{raw});
            }
            my $r = api('POST', '/api/orders', { shippingAddress => $ADDR, paymentMethod => 'webpay' }, bearer($c->{token}));
            is($r->{status}, 201, 'ordered') or diag($r->{raw});
            json_like(order_of($r), { items => [ { productId => $P1, quantity => 2 }, { productId => $P3, quantity => 1 } ],
                                      subtotal => 2 * 12990 + 30000 }, 'the cart\'s lines, catalogue prices');
            $r = api('GET', '/api/cart', undef, bearer($c->{token}));
            is(scalar @{ $r->{json}{data}{cart}{items} || [] }, 0, 'the cart is empty');
            $r = api('POST', '/api/orders', { shippingAddress => $ADDR, paymentMethod => 'webpay' }, bearer($c->{token}));
            is($r->{status}, 400, 'an empty cart: 400');
            for my $id (map { $_->{id} } @{ api('GET', '/api/orders', undef, bearer($c->{token}))->{json}{data}{orders} }) {
                api('POST', "/api/orders/$id/cancel", undef, bearer($c->{token}));
            }
        },
    },

    # ---- a saved address ----------------------------------------------------------------------
    {
        name    => 'a saved address by addressId: copied into the order; another user\'s or an unknown one 404',
        skip    => (api('GET', '/api/users/me', undef, bearer(customer()->{token}))->{status} == 200 ? undef
                    : 'the user service is not part of this stack'),
        then    => sub {
            my $c = customer();
            my $r = api('POST', '/api/users/me/addresses', { label => 'Casa', %$ADDR }, bearer($c->{token}));
            is($r->{status}, 201, 'an address saved') or diag($r->{raw});
            my $aid = ref $r->{json} eq 'HASH' ? $r->{json}{data}{address}{id} : undef;
            $r = api('POST', '/api/orders', { items => [{ productId => $P1, quantity => 1 }], addressId => $aid,
                                              paymentMethod => 'cash' }, bearer($c->{token}));
            is($r->{status}, 201, 'ordered to it') or diag($r->{raw});
            json_like(order_of($r), { addressId => $aid, shippingAddress => { recipient => 'Ana Pérez',
                street => 'Av. Providencia 1234', city => 'Santiago', region => 'Metropolitana',
                phone => '+56912345678' } }, 'the address copied');
            api('POST', '/api/orders/' . order_of($r)->{id} . '/cancel', undef, bearer($c->{token})) if order_of($r);
            $r = api('POST', '/api/orders', { items => [{ productId => $P1, quantity => 1 }], addressId => $aid,
                                              paymentMethod => 'cash' }, bearer($BOB->{token}));
            is($r->{status}, 404, 'another customer\'s address: 404');
            is($r->{json}{code}, 'ADDRESS_NOT_FOUND', 'ADDRESS_NOT_FOUND');
        },
    },

    # ---- idempotency -------------------------------------------------------------------------
    {
        name    => 'ten concurrent POSTs with one Idempotency-Key: one order, ten identical answers',
        then    => sub {
            my $c = customer();
            my $key = 'pedido-' . random_hex(8);
            my $body = order_body(items => [{ productId => $P2, quantity => 2 }]);
            my @out = concurrently(10, sub {
                my $r = api('POST', '/api/orders', $body, { %{ bearer($c->{token}) }, 'Idempotency-Key' => $key });
                return "$r->{status} $r->{raw}";
            });
            is(scalar(grep { /^201 / } @out), 10, 'ten 201') or diag(join "\n", @out);
            is(scalar(keys %{ { map { $_ => 1 } @out } }), 1, 'ten identical answers');
            is(pg_value('SELECT count(*) FROM orders.orders WHERE user_id = $1', $c->{id}), 1, 'one order');
            is(stock_of($P2), 48, 'two taken once');
            my $r = api('POST', '/api/orders', $body, { %{ bearer($c->{token}) }, 'Idempotency-Key' => $key });
            is("$r->{status} $r->{raw}", $out[0], 'a later retry: the same answer');
            $r = api('POST', '/api/orders', order_body(), { %{ bearer($c->{token}) }, 'Idempotency-Key' => $key });
            is($r->{status}, 422, 'the key with another body: 422');
            is($r->{json}{code}, 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_REUSED');
            $r = api('POST', '/api/orders', $body, { %{ bearer($BOB->{token}) }, 'Idempotency-Key' => $key });
            is($r->{status}, 201, 'the same key is another customer\'s own');
            isnt(order_of($r)->{id}, $JSON->decode(substr($out[0], 4))->{data}{order}{id}, 'another order');
        },
    },

    # ---- stock -------------------------------------------------------------------------------
    {
        name    => 'stock 5, 40 customers ordering one each at once: 5 orders, 35 OUT_OF_STOCK, stock 0',
        then    => sub {
            my $p = new_product('S', 9990, 5);
            my @out = concurrently(40, sub {
                my $c = customer();
                my $r = api('POST', '/api/orders', order_body(items => [{ productId => $p, quantity => 1 }]),
                            bearer($c->{token}));
                my $o = order_of($r) // {};
                return join ' ', $r->{status}, $r->{json}{code} // '-', $o->{status} // '-', $o->{reason} // '-';
            });
            is(scalar(grep { $_ eq '201 - pending -' } @out), 5, 'five orders') or diag(join "\n", sort @out);
            is(scalar(grep { $_ eq '409 OUT_OF_STOCK cancelled OUT_OF_STOCK' } @out), 35,
               'thirty-five cancelled with OUT_OF_STOCK');
            is(stock_of($p), 0, 'final stock 0');
        },
    },
    {
        name    => 'a multi-item order whose last item runs out leaves nothing reserved',
        then    => sub {
            my $a = new_product('M', 1000, 10);
            my $b = new_product('N', 2000, 10);
            my $z = new_product('Z', 3000, 1);
            my $c = customer();
            my $r = api('POST', '/api/orders', order_body(items => [
                { productId => $a, quantity => 3 }, { productId => $b, quantity => 4 }, { productId => $z, quantity => 2 } ]),
                bearer($c->{token}));
            is($r->{status}, 409, 'refused with 409');
            is($r->{json}{code}, 'OUT_OF_STOCK', 'OUT_OF_STOCK');
            json_like(order_of($r), { status => 'cancelled', reason => 'OUT_OF_STOCK',
                statusHistory => [ { status => 'cancelled', at => $ISO } ] }, 'the order, cancelled');
            is_deeply([ stock_of($a), stock_of($b), stock_of($z) ], [10, 10, 1], 'every stock as before');
            $r = api('GET', '/api/orders', undef, bearer($c->{token}));
            is($r->{json}{data}{orders}[0]{reason}, 'OUT_OF_STOCK', 'listed with its reason');
            is(pg_value(q{SELECT count(*) FROM orders.outbox WHERE payload->>'userId' = $1}, $c->{id}), 0,
               'no order.created for it');
        },
    },
    {
        name    => 'a withdrawn product cannot be ordered',
        then    => sub {
            my $w = new_product('W', 1000, 10);
            api('DELETE', "/api/products/$w", undef, bearer($ADMIN));
            my $r = api('POST', '/api/orders', order_body(items => [{ productId => $w, quantity => 1 }]), bearer($BOB->{token}));
            is($r->{status}, 404, 'refused with 404');
            is($r->{json}{code}, 'PRODUCT_NOT_FOUND', 'PRODUCT_NOT_FOUND');
        },
    },
], \%ctx);

finish();
