#!/usr/bin/perl
# 72-reviews-outage.t: what the review service does when what it depends on fails.
#   PostgreSQL down: 503 SERVICE_UNAVAILABLE in the envelope within a second for reads and
#   writes, /health says so, and the service serves again by itself once the store is back;
#   an order event that arrived meanwhile is applied once the store returns (retried).
#   RabbitMQ down: reviews are still written (the outbox keeps the event) and the event is
#   delivered, once, when the broker is back.
# The outage blocks work on a review written straight into the store, so that they run with or
# without the product service.
#   Product service down: a new review cannot be checked, so it is refused with 503; reading
#   reviews does not need the product service.
# Few requests are sent during each outage: the review breaker (non-critical profile) must not
# open because of this file.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $JSON = JSON::PP->new->utf8->canonical;
my $HEALTH = "$ENV{FLORES_INTERNAL_URL}/services/review/health";
my $NEXT_UID = 800_000_000 + int(rand(90_000_000));

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "cliente$id\@example.com",
                                            exp => time + 3600 }) };
}

# Products of the test's own, created by an administrator (so that the catalogue's products
# and their ratings are left alone) and withdrawn at the end; () when the product service is
# not part of the stack.
sub test_products {
    my ($n, $tag) = @_;
    my $probe = api('GET', '/api/products?limit=1');
    return () unless $probe->{status} == 200 && ref $probe->{json} eq 'HASH';
    my $adm = mint_jwt({ sub => '999999999', role => 'admin', exp => time + 7200 });
    my @ids;
    for my $k (1 .. $n) {
        my $id = $tag . $k . uc random_hex(4);
        my $r = api('POST', '/api/products', { id => $id, name => "Ramo de prueba $k", price => 1000 * $k,
            description => 'Un ramo creado para probar las reseñas.', category => 'pruebas' }, bearer($adm));
        if ($r->{status} != 201) {
            diag("cannot create the test product $id: $r->{status} $r->{raw}");
            return ();
        }
        push @ids, $id;
    }
    cleanup(sub { api('DELETE', "/api/products/$_", undef, bearer($adm)) for @ids });
    return @ids;
}

my @PRODUCTS = test_products(2, 'ZS');
my $NO_CATALOG = @PRODUCTS ? undef : 'the product service is not part of this stack (no product could be created through it)';
my ($P1, $P2) = @PRODUCTS;
# The product service as a component of the stack: running, and ours to stop and start.
my $PRODUCT_RUNNING = @PRODUCTS;

my $LP = 'ZO' . uc random_hex(5);
my $queue = unique_queue('reviews-outage');
cleanup(sub { events_delete($queue) });
cleanup(sub { pg('DELETE FROM reviews.reviews WHERE product_id = $1', $LP) });

sub publish {
    my ($type, $data) = @_;
    my $r = run_cmd([events_bin(), 'publish', '--type', $type, '--data', $JSON->encode($data)],
        timeout => 30);
    is($r->{rc}, 0, "published $type") or diag($r->{text});
    my ($id) = $r->{out} =~ /([0-9a-f-]{36})/;
    return $id;
}

sub listed {
    my ($product, $id) = @_;
    my $r = api('GET', "/api/reviews/product/$product?limit=100");
    return undef unless $r->{status} == 200;
    my ($rv) = grep { $_->{id} == $id } @{ $r->{json}{data}{reviews} || [] };
    return $rv;
}

sub events_about {
    my ($id, $timeout) = @_;
    my @mine;
    my $deadline = time + $timeout;
    while (!@mine && time < $deadline) {
        my $left = $deadline - time;
        my ($rc, $msgs) = events_tail($queue, 1, $left < 1 ? 1 : $left);
        push @mine, grep { ref $_->{data} eq 'HASH' && ($_->{data}{reviewId} // '') eq $id } @$msgs;
        last if $rc != 0 && !@$msgs;
    }
    return @mine;
}

my %ctx;

run_blocks([
    {
        name => "setup: one review of $LP in the store, a queue bound to review.*",
        then => sub {
            $ctx{fu} = customer();
            $ctx{lr} = pg_value(q{INSERT INTO reviews.reviews (product_id, user_id, rating, comment)
                    VALUES ($1, $2, 4, 'Reseña de prueba de caída') RETURNING id}, $LP, $ctx{fu}{id});
            ok($ctx{lr}, 'inserted');
            is(events_declare($queue, 'review.*')->{rc}, 0, 'queue declared');
        },
    },
    {
        name    => 'healthy before the outage',
        request => ['GET', $HEALTH],
        status  => 200,
        raw     => 1,
    },
    # ---- PostgreSQL -------------------------------------------------------------------------------
    {
        name => 'stop PostgreSQL',
        then => sub { is(stop_component('postgres')->{rc}, 0, './flores stop postgres') },
    },
    {
        # Protects: a store outage is a prompt 503 in the envelope, not a hang or a 500.
        name    => 'list while the store is down: 503 within a second',
        request => ['GET', "/api/reviews/product/$LP"],
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
        headers_like => { 'Retry-After' => qr/^[1-9][0-9]*\z/ },
    },
    {
        name    => 'write while the store is down: 503',
        request => sub { ['PUT', "/api/reviews/$ctx{lr}", { rating => 1, comment => 'Durante la caída.' }] },
        token   => sub { $ctx{fu}{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 1000,
    },
    {
        name    => 'create while the store is down: 503',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P2", { rating => 1, comment => 'Durante la caída.' }] },
        token   => sub { customer()->{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 4000,
    },
    {
        name    => 'health reports the store down',
        request => ['GET', $HEALTH],
        status  => 503,
        raw     => 1,
        max_ms  => 3000,
    },
    {
        # Protects: a consumer's event is retried, not lost, while its store is down.
        name    => 'an order delivered while the store is down',
        then    => sub {
            $ctx{ev} = publish('order.status_changed', { orderId => 92001, userId => $ctx{fu}{id},
                status => 'delivered', items => [{ productId => $LP, quantity => 1 }] });
        },
    },
    {
        name => 'start PostgreSQL',
        then => sub { is(start_component('postgres')->{rc}, 0, './flores start postgres') },
    },
    {
        # Protects: the workers' connections are opened again by themselves.
        name => 'the service recovers by itself within 10 s',
        then => sub {
            my $res = wait_for(10, sub { my $r = api('GET', "/api/reviews/product/$LP"); $r->{status} == 200 ? $r : 0 }, 0.5);
            ok($res, 'the list answers 200 again');
            is($res && $res->{json}{data}{summary}{count}, 1, 'with the review written before the outage');
            is(api('GET', $HEALTH)->{status}, 200, 'health 200');
        },
    },
    {
        name    => 'writes work again',
        request => sub { ['PUT', "/api/reviews/$ctx{lr}", { rating => 4, comment => 'Después de la caída.' }] },
        token   => sub { $ctx{fu}{token} },
        status  => 200,
        then    => sub { ok(events_about($ctx{lr}, 20), 'its review.updated is published') },
    },
    {
        name    => 'the order event is applied once the store is back',
        then    => sub {
            my $rv = wait_for(45, sub { my $x = listed($LP, $ctx{lr}); $x && $x->{verifiedPurchase} ? $x : 0 }, 1);
            ok($rv, 'the review became a verified purchase within 45 s');
            is(pg_value('SELECT count(*) FROM reviews.processed_events WHERE event_id = $1', $ctx{ev}), 1,
                'handled once');
        },
    },

    # ---- RabbitMQ ---------------------------------------------------------------------------------
    {
        name => 'stop RabbitMQ',
        then => sub { is(stop_component('rabbitmq')->{rc}, 0, './flores stop rabbitmq') },
    },
    {
        # Protects: the broker is not on the write's path: the outbox keeps the event.
        name    => 'broker down: a review is still changed, promptly',
        request => sub { ['PUT', "/api/reviews/$ctx{lr}", { rating => 2, comment => 'Sin mensajería.' }] },
        token   => sub { $ctx{fu}{token} },
        status  => 200,
        max_ms  => 3000,
        then    => sub {
            is(pg_value(q{SELECT count(*) FROM reviews.outbox WHERE type = 'review.updated'
                          AND payload->>'reviewId' = $1 AND payload->>'rating' = '2'
                          AND published_at IS NULL}, $ctx{lr}), 1,
                'the event waits in the outbox');
        },
    },
    {
        name => 'start RabbitMQ',
        then => sub { is(start_component('rabbitmq')->{rc}, 0, './flores start rabbitmq') },
    },
    {
        name => 'broker back: review.updated arrives once',
        then => sub {
            my @m = events_about($ctx{lr}, 40);
            is(scalar @m, 1, 'review.updated delivered within 40 s');
            json_like($m[0], { type => 'review.updated', data => { rating => 2, previousRating => 4 } },
                'the update made during the outage');
            my @more = events_about($ctx{lr}, 5);
            is(scalar @more, 0, 'no second delivery');
        },
    },

    # ---- the product service ----------------------------------------------------------------------
    {
        name => 'stop the product service',
        skip => $PRODUCT_RUNNING ? undef : 'the product service is not a running component of this stack',
        then => sub { is(stop_component('product')->{rc}, 0, './flores stop product') },
    },
    {
        # Protects: a review of a product nobody can vouch for is refused as "try later", never
        # accepted blindly nor answered 404.
        name    => 'product service unreachable: creating a review is a 503',
        setup   => sub { $ctx{c} = customer() },
        request => sub { ['POST', '/api/reviews/product/' . ($P1 // 'AML001'), { rating => 3, comment => 'Catálogo caído.' }] },
        token   => sub { $ctx{c}{token} },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 5000,
        headers_like => { 'Retry-After' => qr/^[1-9][0-9]*\z/ },
        then    => sub {
            is(pg_value('SELECT count(*) FROM reviews.reviews WHERE user_id = $1', $ctx{c}{id}), 0, 'nothing stored');
        },
    },
    {
        name    => 'reading reviews does not need the product service',
        request => ['GET', "/api/reviews/product/$LP"],
        status  => 200,
    },
    {
        name => 'start the product service',
        skip => $PRODUCT_RUNNING ? undef : 'the product service is not a running component of this stack',
        then => sub { is(start_component('product')->{rc}, 0, './flores start product') },
    },
    {
        name    => 'product service back: the review is accepted',
        skip    => $PRODUCT_RUNNING ? undef : 'the product service is not a running component of this stack',
        then    => sub {
            my $r = wait_for(10, sub {
                my $x = api('POST', "/api/reviews/product/$P1", { rating => 3, comment => 'Catálogo de vuelta.' },
                    bearer($ctx{c}{token}));
                $x->{status} == 201 ? $x : 0 }, 1);
            ok($r, '201 within 10 s');
            push @{ $ctx{cleanup} }, [$r->{json}{data}{review}{id}, $ctx{c}{token}] if $r;
        },
    },
    {
        name => 'clean up',
        skip => $PRODUCT_RUNNING ? undef : 'nothing was written through the API',
        then => sub {
            for my $c (@{ $ctx{cleanup} || [] }) {
                is(api('DELETE', "/api/reviews/$c->[0]", undef, bearer($c->[1]))->{status}, 200,
                    "review $c->[0] deleted");
            }
        },
    },
]);

finish();
