#!/usr/bin/perl
# 71-reviews-events.t: the review service's events.  Out: review.created, review.updated and
# review.deleted through the outbox, with exactly the data the product service consumes, and
# nothing for refused requests.  In: user.registered gives reviews their author's name;
# order.status_changed to "delivered" makes reviews of the order's products verified
# purchases (before or after they are written), once per event, and a malformed event is
# dead-lettered; a redelivered event changes nothing.  Last, when the product service is in the
# stack, a product's rating and reviews_count follow its reviews.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/i;
my $ISO  = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $JSON = JSON::PP->new->utf8->canonical;
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };

my $NEXT_UID = 800_000_000 + int(rand(90_000_000));

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "cliente$id\@example.com",
                                            exp => time + 3600 }) };
}

sub admin {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", role => 'admin', exp => time + 3600 }) };
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

my @PRODUCTS = test_products(1, 'ZQ');
my $NO_CATALOG = @PRODUCTS ? undef : 'the product service is not part of this stack (no product could be created through it)';
my ($P1) = @PRODUCTS;

my $queue = unique_queue('reviews');
cleanup(sub { events_delete($queue) });

# Products nobody else uses, for reviews written straight into the store.
my ($V1, $V2, $V3) = map { 'ZV' . $_ . uc random_hex(4) } 1 .. 3;
cleanup(sub { pg('DELETE FROM reviews.reviews WHERE product_id IN ($1, $2, $3)', $V1, $V2, $V3) });

# A review stored directly (no product check); returns its id.
sub fixture_review {
    my ($product, $user, $rating) = @_;
    return pg_value(q{INSERT INTO reviews.reviews (product_id, user_id, rating, comment)
                      VALUES ($1, $2, $3, 'Reseña escrita por la prueba') RETURNING id},
        $product, $user, $rating);
}

sub post_review {
    my ($product, $body, $token) = @_;
    return api('POST', "/api/reviews/product/$product", $body, bearer($token));
}

# The review as the public list shows it (a product's first 100 reviews).
sub listed {
    my ($product, $id) = @_;
    my $r = api('GET', "/api/reviews/product/$product?limit=100");
    return undef unless $r->{status} == 200;
    my ($rv) = grep { $_->{id} == $id } @{ $r->{json}{data}{reviews} || [] };
    return $rv;
}

# Messages of the test's queue about these review ids, read until $want of them arrived or
# $timeout seconds passed; others are dropped.
my @BACKLOG;
sub review_events {
    my ($ids, $want, $timeout) = @_;
    my %ids = map { $_ => 1 } @$ids;
    my @mine;
    my $deadline = time + $timeout;
    while (1) {
        @mine = grep { ref $_->{data} eq 'HASH' && $ids{ $_->{data}{reviewId} // '' } } @BACKLOG;
        last if @mine >= $want || time >= $deadline;
        my $left = $deadline - time;
        my ($rc, $msgs) = events_tail($queue, 10, $left < 1 ? 1 : $left > 3 ? 3 : $left);
        push @BACKLOG, @$msgs;
    }
    my %take = map { $_ + 0 => 1 } @mine;
    @BACKLOG = grep { !$take{ $_ + 0 } } @BACKLOG;
    return @mine;
}

# An event message with exactly these data keys and values.
sub event_ok {
    my ($m, $type, $data, $name) = @_;
    json_like($m, { id => $UUID, type => $type, occurredAt => $ISO, source => 'review' },
        "$name: id, type, occurredAt, source");
    my $got = $m && ref $m->{data} eq 'HASH' ? $m->{data} : {};
    is(join(',', sort keys %$got), join(',', sort keys %$data), "$name: exactly the data keys "
        . join(',', sort keys %$data));
    for my $k (sort keys %$data) {
        my $v = $got->{$k};
        ok(defined $v && !ref $v && "$v" eq "$data->{$k}"
            && ($k eq 'productId' ? !_is_number($got, $k) : _is_number($got, $k)),
            "$name: $k = $data->{$k}" . ($k eq 'productId' ? ' (a string)' : ' (a number)'))
            or diag($JSON->encode($got));
    }
}

# True when the key's value was a JSON number (re-encoding keeps the type JSON::PP read).
sub _is_number {
    my ($h, $k) = @_;
    return $JSON->encode([$h->{$k}]) !~ /^\["/;
}

# Publishes an event (under the id given, to deliver one again); returns its id.
sub publish {
    my ($type, $data, $id) = @_;
    my $r = run_cmd([events_bin(), 'publish', '--type', $type, '--data', $JSON->encode($data),
        (defined $id ? ('--id', $id) : ())], timeout => 30);
    is($r->{rc}, 0, "published $type") or diag($r->{text});
    my ($sent) = $r->{out} =~ /([0-9a-f-]{36})/;
    return $sent;
}

sub processed {
    my ($consumer, $id) = @_;
    return pg_value('SELECT count(*) FROM reviews.processed_events WHERE consumer = $1 AND event_id = $2',
        $consumer, $id) // -1;
}

sub dead_count {
    my $r = run_cmd([events_bin(), 'count', '--queue', 'review.orders.dead'], timeout => 30);
    return $r->{rc} == 0 && $r->{out} =~ /(\d+)/ ? $1 : 0;
}

my %ctx;

run_blocks([
    {
        name => 'a durable queue bound to review.*',
        then => sub {
            my $r = events_declare($queue, 'review.*');
            is($r->{rc}, 0, "flores-events declare $queue") or diag($r->{text});
        },
    },

    # ---- out: review.* ------------------------------------------------------------------------
    {
        # Protects: each write announces itself, with the data the product service counts on.
        name    => 'create: review.created {reviewId, productId, userId, rating}',
        skip    => $NO_CATALOG,
        setup   => sub { $ctx{a} = customer() },
        request => sub { ['POST', "/api/reviews/product/$P1", { rating => 4, comment => 'Hermoso arreglo floral.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 201,
        then    => sub {
            $ctx{r1} = $_[0]{json}{data}{review}{id};
            my ($m) = review_events([$ctx{r1}], 1, 20);
            event_ok($m, 'review.created',
                { reviewId => $ctx{r1}, productId => $P1, userId => $ctx{a}{id}, rating => 4 }, 'created');
        },
    },
    {
        name    => 'refused writes publish nothing (409, 403, 400)',
        skip    => $NO_CATALOG,
        then    => sub {
            is(post_review($P1, { rating => 1, comment => 'Otra vez la misma reseña.' }, $ctx{a}{token})->{status},
                409, 'duplicate: 409');
            is(api('PUT', "/api/reviews/$ctx{r1}", { rating => 1, comment => 'No es mía, pero...' },
                bearer(customer()->{token}))->{status}, 403, 'someone else\'s: 403');
            is(api('DELETE', "/api/reviews/$ctx{r1}", undef, bearer(customer()->{token}))->{status},
                403, 'someone else\'s delete: 403');
            is(api('PUT', "/api/reviews/$ctx{r1}", { rating => 0, comment => 'x' },
                bearer($ctx{a}{token}))->{status}, 400, 'bad fields: 400');
            my @m = review_events([$ctx{r1}], 1, 4);
            is(scalar @m, 0, 'no event about the review within 4 s') or diag($JSON->encode(\@m));
        },
    },
    {
        name    => 'the author edits: review.updated with previousRating',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{r1}", { rating => 2, comment => 'Se marchitó pronto.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 200,
        then    => sub {
            my ($m) = review_events([$ctx{r1}], 1, 20);
            event_ok($m, 'review.updated', { reviewId => $ctx{r1}, productId => $P1, userId => $ctx{a}{id},
                                             rating => 2, previousRating => 4 }, 'updated');
        },
    },
    {
        # Protects: the event names the review's author, not the administrator who edited it.
        name    => 'an administrator edits: userId is still the author\'s',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{r1}", { rating => 3, comment => 'Texto moderado por la tienda.' }] },
        token   => sub { admin()->{token} },
        status  => 200,
        then    => sub {
            my ($m) = review_events([$ctx{r1}], 1, 20);
            event_ok($m, 'review.updated', { reviewId => $ctx{r1}, productId => $P1, userId => $ctx{a}{id},
                                             rating => 3, previousRating => 2 }, 'updated by admin');
        },
    },
    {
        name    => 'delete: review.deleted with the rating it had',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{r1}"] },
        token   => sub { $ctx{a}{token} },
        status  => 200,
        then    => sub {
            my ($m) = review_events([$ctx{r1}], 1, 20);
            event_ok($m, 'review.deleted', { reviewId => $ctx{r1}, productId => $P1, userId => $ctx{a}{id},
                                             rating => 3 }, 'deleted');
            my @more = review_events([$ctx{r1}], 1, 3);
            is(scalar @more, 0, 'no duplicate within 3 s');
            ok(wait_for(5, sub {
                pg_value(q{SELECT count(*) FROM reviews.outbox WHERE payload->>'reviewId' = $1
                           AND published_at IS NULL}, $ctx{r1}) eq '0' }),
                'every outbox row of the review is marked published');
            is(pg_value(q{SELECT count(*) FROM reviews.outbox WHERE payload->>'reviewId' = $1}, $ctx{r1}),
                4, 'four events in all: created, updated twice, deleted');
        },
    },

    # ---- in: user.registered --------------------------------------------------------------------
    # The consumers are shown on reviews written straight into the store (products $V1..$V3
    # nobody else uses), so that they are tested with or without the product service.
    {
        # Protects: reviews show who wrote them (first name, initial of the last), learnt from
        # user.registered since the token carries no name.
        name    => 'a registered user\'s reviews show "first name + initial"',
        then    => sub {
            for my $case (['Valentina Rojas Soto', 'Valentina S.'], ['Ñandú', 'Ñandú'],
                          ['josé de la  Úrsula', 'josé Ú.'], [q{Robert'); DROP TABLE reviewers;-- O'Higgins}, q{Robert'); O.}]) {
                my ($full, $shown) = @$case;
                my $u = register_user(name => $full, tag => 'rvname');
                my $id = fixture_review($V1, $u->{id}, 5);
                ok($id, "a review of $V1 by '$full'") or next;
                my $seen = wait_for(15, sub { my $rv = listed($V1, $id); $rv && $rv->{authorName} ne 'Cliente' ? $rv : 0 });
                is($seen && $seen->{authorName}, $shown, "'$full' is shown as '$shown'");
                is(pg_value('SELECT name FROM reviews.reviewers WHERE user_id = $1', $u->{id}), $full,
                    'the name is kept as registered');
            }
        },
    },

    {
        # Protects: a redelivered event (same id) changes nothing, even if its content differs.
        name    => 'user.registered delivered twice: applied once',
        then    => sub {
            my $uid = $NEXT_UID++;
            my $id = publish('user.registered', { userId => $uid, name => 'Primera Vez', email => "p$uid\@example.com",
                                                  role => 'customer' });
            ok(wait_for(15, sub { processed('users', $id) == 1 }), 'handled');
            publish('user.registered', { userId => $uid, name => 'Segunda Vez', email => "p$uid\@example.com",
                                         role => 'customer' }, $id);
            my $marker = publish('user.registered', { userId => $NEXT_UID++, name => 'Marca Final',
                                                      email => "m$uid\@example.com", role => 'customer' });
            ok(wait_for(15, sub { processed('users', $marker) == 1 }), 'a later event was handled');
            is(pg_value('SELECT name FROM reviews.reviewers WHERE user_id = $1', $uid), 'Primera Vez',
                'the redelivery was ignored');
            is(processed('users', $id), 1, 'the id recorded once');
        },
    },

    # ---- in: order.status_changed ---------------------------------------------------------------
    {
        name    => 'a review before delivery is not verified',
        then    => sub {
            $ctx{b} = customer();
            $ctx{rb} = fixture_review($V2, $ctx{b}{id}, 5);
            my $rv = listed($V2, $ctx{rb});
            ok($rv && $FALSE->($rv->{verifiedPurchase}), 'verifiedPurchase false');
        },
    },
    {
        # Protects: a status other than delivered proves nothing.
        name    => 'order shipped: still not verified',
        then    => sub {
            $ctx{shipped} = publish('order.status_changed', { orderId => 91001, userId => $ctx{b}{id},
                status => 'shipped', items => [{ productId => $V2, quantity => 1, price => 1000 }] });
            # A delivered order of another user, published after it: once that one is
            # handled, so is the shipped one (one consumer, in order).
            my $other = customer();
            my $marker = publish('order.status_changed', { orderId => 91002, userId => $other->{id},
                status => 'delivered', items => [{ productId => $V3, quantity => 1 }] });
            ok(wait_for(15, sub { processed('orders', $marker) == 1 }), 'the later event was handled');
            my $rv = listed($V2, $ctx{rb});
            ok($rv && $FALSE->($rv->{verifiedPurchase}), 'verifiedPurchase still false');
        },
    },
    {
        # Protects: delivery marks the reviews already written.
        name    => 'order delivered: the review becomes a verified purchase',
        then    => sub {
            $ctx{delivered} = publish('order.status_changed', { orderId => 91003, userId => $ctx{b}{id},
                status => 'delivered',
                items => [{ productId => $V2, name => 'x', quantity => 2, price => 1000, lineTotal => 2000 },
                          ($P1 ? { productId => $P1, quantity => 1 } : ())] });
            my $rv = wait_for(15, sub { my $x = listed($V2, $ctx{rb}); $x && $x->{verifiedPurchase} ? $x : 0 });
            ok($rv && $TRUE->($rv->{verifiedPurchase}), 'verifiedPurchase true within 15 s');
            is(processed('orders', $ctx{delivered}), 1, 'the event id is recorded once');
            is(pg_value('SELECT count(*) FROM reviews.purchases WHERE user_id = $1', $ctx{b}{id}), $P1 ? 2 : 1,
                'one purchase per product of the order');
        },
    },
    {
        # Protects: a later review of a delivered product is verified from the start.
        name    => 'a review after delivery is verified at once',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", { rating => 4, comment => 'Llegó y es precioso.' }] },
        token   => sub { $ctx{b}{token} },
        status  => 201,
        json    => { data => { review => { verifiedPurchase => $TRUE } } },
        then    => sub { push @{ $ctx{cleanup} }, [$_[0]{json}{data}{review}{id}, $ctx{b}{token}] },
    },
    {
        name    => 'ids given as strings are accepted; other users are not verified by it',
        then    => sub {
            my $c = customer();
            my $d = customer();
            my $rc = fixture_review($V3, $c->{id}, 3);
            my $rd = fixture_review($V3, $d->{id}, 3);
            my $ev = publish('order.status_changed', { orderId => '91004', userId => "$c->{id}",
                status => 'delivered', items => [{ productId => $V3, quantity => 1 }] });
            ok(wait_for(15, sub { processed('orders', $ev) == 1 }), 'handled');
            ok($TRUE->((listed($V3, $rc) || {})->{verifiedPurchase}), 'c verified');
            ok($FALSE->((listed($V3, $rd) || {})->{verifiedPurchase}), 'd not');
        },
    },
    {
        name    => 'order.status_changed delivered twice: applied once',
        then    => sub {
            my $c = customer();
            my $id = publish('order.status_changed', { orderId => 91010, userId => $c->{id},
                status => 'delivered', items => [{ productId => $V1, quantity => 1 }] });
            ok(wait_for(15, sub { processed('orders', $id) == 1 }), 'handled');
            publish('order.status_changed', { orderId => 91011, userId => $c->{id},
                status => 'delivered', items => [{ productId => $V3, quantity => 1 }] }, $id);
            my $marker = publish('order.status_changed', { orderId => 91012, userId => $NEXT_UID++,
                status => 'delivered', items => [{ productId => $V1, quantity => 1 }] });
            ok(wait_for(15, sub { processed('orders', $marker) == 1 }), 'a later event was handled');
            is_deeply(pg('SELECT product_id, order_id FROM reviews.purchases WHERE user_id = $1', $c->{id}),
                [[$V1, 91010]], 'only the first delivery\'s purchase');
        },
    },
    {
        # Protects: an event that cannot be right is set aside, not retried forever nor applied.
        name    => 'a malformed order event is dead-lettered',
        then    => sub {
            my $before = dead_count();
            my $ev = publish('order.status_changed', { orderId => 91005, userId => $ctx{b}{id},
                status => 'delivered', items => [{ productId => 'no es un id' }] });
            ok(wait_for(15, sub { dead_count() > $before }), 'review.orders.dead gained a message');
            is(processed('orders', $ev), 0, 'not recorded as processed');
        },
    },

    # ---- the product service follows ------------------------------------------------------------
    {
        # Protects: the product service keeps rating and reviews_count from the review events
        # (on a product of its own, so the expected values are exact).
        name    => 'a product\'s rating and reviews_count follow its reviews',
        skip    => $NO_CATALOG,
        then    => sub {
            my $adm = admin();
            my $pid = 'ZR' . uc random_hex(5);
            my $cr = api('POST', '/api/products', { id => $pid, name => 'Ramo de reseñas', price => 1000,
                description => 'Un ramo para seguir sus reseñas.', category => 'pruebas' }, bearer($adm->{token}));
            is($cr->{status}, 201, "an administrator creates $pid") or return diag($cr->{raw});
            cleanup(sub { api('DELETE', "/api/products/$pid", undef, bearer($adm->{token})) });
            my $view = sub {     # the service's own data: an administrator's read skips the cache
                my $r = api('GET', "/api/products/$pid", undef, bearer($adm->{token}));
                return $r->{status} == 200 ? $r->{json}{data}{product} : {};
            };
            my $follows = sub {
                my ($rating, $count, $what) = @_;
                my $p = wait_for(20, sub { my $x = $view->(); ($x->{reviews_count} // -1) == $count
                                           && abs(($x->{rating} // -1) - $rating) < 0.001 ? $x : 0 }, 0.5);
                ok($p, "$what: rating $rating, reviews_count $count within 20 s")
                    or diag($JSON->encode($view->()));
            };
            my ($c, $d) = (customer(), customer());
            my $rc = post_review($pid, { rating => 4, comment => 'Bonito ramo de prueba.' }, $c->{token});
            my $rd = post_review($pid, { rating => 1, comment => 'No me gustó nada.' }, $d->{token});
            is($rc->{status}, 201, 'a 4');
            is($rd->{status}, 201, 'a 1');
            $follows->(2.5, 2, 'two reviews');
            is(api('PUT', "/api/reviews/$rd->{json}{data}{review}{id}", { rating => 5, comment => 'Lo pensé mejor, me encanta.' },
                bearer($d->{token}))->{status}, 200, 'the 1 becomes a 5');
            $follows->(4.5, 2, 'after the edit');
            is(api('DELETE', "/api/reviews/$rc->{json}{data}{review}{id}", undef, bearer($c->{token}))->{status},
                200, 'the 4 is deleted');
            $follows->(5, 1, 'after the deletion');
            my $pub = wait_for(25, sub { my $r = api('GET', "/api/products/$pid");
                $r->{status} == 200 && ($r->{json}{data}{product}{reviews_count} // -1) == 1 ? $r : 0 }, 1);
            ok($pub, 'the public (cached) view shows it within 25 s');
            push @{ $ctx{cleanup} }, [$rd->{json}{data}{review}{id}, $d->{token}];
        },
    },
    {
        name    => 'clean up the reviews of this file',
        skip    => $NO_CATALOG,
        then    => sub {
            for my $c (@{ $ctx{cleanup} || [] }) {
                is(api('DELETE', "/api/reviews/$c->[0]", undef, bearer($c->[1]))->{status}, 200,
                    "review $c->[0] deleted");
            }
        },
    },
]);

finish();
