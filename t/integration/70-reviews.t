#!/usr/bin/perl
# 70-reviews.t: the review service through the gateway: a product's reviews with their
# summary (average, count, distribution) and every pagination edge; writing a review (one per
# user and product, every bad field, unknown products, anonymous callers); editing and
# deleting by the author or an administrator, refused for other customers; SQL
# metacharacters stored and shown literally.
#
# Reading needs only the review service.  Writing needs products the product service knows:
# the file creates two of its own; when the product service is not part of the stack, the
# writing blocks are skipped.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();
use POSIX ();

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $JSON = JSON::PP->new->utf8->canonical;

# json_like leaves for JSON booleans.
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };

# ---- callers: tokens signed with the stack's key for users the test makes up -------------
# Subjects far above any registered user's id; a review only needs the id in the token.
my $NEXT_UID = 800_000_000 + int(rand(90_000_000));

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "cliente$id\@example.com",
                                            exp => time + 3600 }) };
}

sub admin {
    my $id = $NEXT_UID++;
    return { id => $id, token => mint_jwt({ sub => "$id", email => "admin$id\@example.com",
                                            role => 'admin', exp => time + 3600 }) };
}

# ---- products ------------------------------------------------------------------------------

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

my @PRODUCTS = test_products(2, 'ZP');
my $NO_CATALOG = @PRODUCTS ? undef : 'the product service is not part of this stack (no product could be created through it)';
my ($P1, $P2) = @PRODUCTS;
diag($NO_CATALOG ? "writing blocks skipped: $NO_CATALOG" : "reviewing products $P1 and $P2");

# A product id nobody uses: the list fixtures below are written straight into the store, so
# that counts and order are known exactly whatever ran before.
my $LP = 'ZT' . uc random_hex(5);
my $EMPTY = 'ZE' . uc random_hex(5);

# 25 reviews of $LP, one a minute, newest first: ratings 5 x10, 4 x7, 3 x4, 2 x1, 1 x3
# (average 95 / 25 = 3.8).  Review k (1 = newest) is by user $UBASE + k.
my @RATINGS = ((5) x 10, (4) x 7, (3) x 4, 2, (1) x 3);
my $UBASE = 700_000_000 + int(rand(90_000_000));

sub list_fixture {
    my @users = map { $UBASE + $_ } 1 .. 25;
    my $rows = pg(q{
        INSERT INTO reviews.reviews (product_id, user_id, rating, title, comment, created_at, updated_at)
        SELECT $1, u, r, CASE WHEN k = 3 THEN NULL ELSE 'Reseña ' || k END,
               'Comentario número ' || k, now() - k * interval '1 minute', now() - k * interval '1 minute'
        FROM unnest($2::bigint[], $3::int[]) WITH ORDINALITY AS t(u, r, k)
        RETURNING id},
        $LP, '{' . join(',', @users) . '}', '{' . join(',', @RATINGS) . '}');
    return $rows && @$rows == 25;
}

sub list {
    my ($product, $query, $token) = @_;
    return api('GET', "/api/reviews/product/$product" . ($query // ''), undef,
        $token ? bearer($token) : {});
}

sub post_review {
    my ($product, $body, $token) = @_;
    return api('POST', "/api/reviews/product/$product", $body, $token ? bearer($token) : {});
}

# The review's row in the store, as text columns: user_id, product_id, rating, title, comment.
sub stored {
    my $id = shift;
    my $rows = pg('SELECT user_id, product_id, rating, coalesce(title, \'<null>\'), comment '
        . 'FROM reviews.reviews WHERE id = $1', $id);
    return $rows && @$rows ? $rows->[0] : undef;
}

sub count_for {
    my ($user, $product) = @_;
    return pg_value('SELECT count(*) FROM reviews.reviews WHERE user_id = $1 AND product_id = $2',
        $user, $product);
}

my $REVIEW_KEYS = join ',', sort qw(id productId rating title comment authorName verifiedPurchase
                                    mine createdAt updatedAt);

sub review_shape_ok {
    my ($rv, $name) = @_;
    my @why;
    push @why, 'not an object' unless ref $rv eq 'HASH';
    if (ref $rv eq 'HASH') {
        my $keys = join ',', sort keys %$rv;
        push @why, "keys [$keys], want [$REVIEW_KEYS]" if $keys ne $REVIEW_KEYS;
        push @why, 'id is not a positive integer' unless ($rv->{id} // '') =~ /^[1-9]\d*\z/;
        push @why, 'rating is not 1..5' unless ($rv->{rating} // '') =~ /^[1-5]\z/;
        push @why, 'createdAt/updatedAt not ISO-8601 UTC'
            unless ($rv->{createdAt} // '') =~ $ISO && ($rv->{updatedAt} // '') =~ $ISO;
        push @why, 'verifiedPurchase/mine not booleans'
            unless JSON::PP::is_bool($rv->{verifiedPurchase}) && JSON::PP::is_bool($rv->{mine});
    }
    ok(!@why, $name // 'the review has exactly the documented fields')
        or diag(join "\n", @why, $JSON->encode($rv // {}));
}

# One invalid body for a fresh customer: 400 VALIDATION_ERROR naming exactly @fields, and
# nothing stored.
sub invalid {
    my ($name, $body, @fields) = @_;
    my $c;
    return {
        name    => "refused: $name",
        skip    => $NO_CATALOG,
        setup   => sub { $c = customer() },
        request => sub { ['POST', "/api/reviews/product/$P1", $body] },
        token   => sub { $c->{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => \@fields,
        then    => sub { is(count_for($c->{id}, $P1), 0, 'nothing stored') },
    };
}

# One valid body at a limit for a fresh customer: 201, stored as sent (trimmed).
sub accepted {
    my ($name, $body, $check) = @_;
    my $c;
    return {
        name    => "accepted: $name",
        skip    => $NO_CATALOG,
        setup   => sub { $c = customer() },
        request => sub { ['POST', "/api/reviews/product/$P1", $body] },
        token   => sub { $c->{token} },
        status  => 201,
        then    => sub { $check->($_[0]{json}{data}{review}, $c) if $check },
    };
}

my %ctx;
my $GOOD = { rating => 4, title => 'Muy lindo', comment => 'Llegó a tiempo y muy fresco.' };

run_blocks([
    # ---- reading: summary, distribution, order, pagination -----------------------------------
    {
        name => "setup: 25 reviews of $LP written to the store",
        then => sub { ok(list_fixture(), '25 rows inserted') },
    },
    {
        # Protects: the summary covers every review, not just the page; newest first.
        name    => 'first page: 20 newest, the summary of all 25',
        request => ['GET', "/api/reviews/product/$LP"],
        status  => 200,
        json    => { data => {
            summary    => { average => '3.8', count => 25,
                            distribution => { 1 => 3, 2 => 1, 3 => 4, 4 => 7, 5 => 10 } },
            pagination => { page => 1, limit => 20, total => 25, pages => 2 },
        } },
        then => sub {
            my ($res) = @_;
            my $rv = $res->{json}{data}{reviews};
            is(scalar @$rv, 20, '20 reviews on the page');
            is_deeply([map { $_->{comment} } @$rv], [map { "Comentario número $_" } 1 .. 20],
                'newest first');
            is_deeply([map { $_->{rating} } @$rv], [@RATINGS[0 .. 19]], 'each with its rating');
            review_shape_ok($rv->[0]);
            is($rv->[2]{title}, undef, 'a review without title has title null');
            ok(exists $rv->[2]{title}, '... and the key is present');
            is($rv->[0]{authorName}, 'Cliente', 'an unknown reviewer is shown as "Cliente"');
            ok(!$rv->[0]{mine}, 'mine is false for an anonymous reader');
            ok(!grep({ exists $_->{userId} } @$rv), 'reviewers\' user ids are not published');
            like($res->{raw}, qr/"average":3\.8[,}]/, 'average is a JSON number with one decimal');
            like($res->{raw}, qr/"distribution":\{"1":3,"2":1,"3":4,"4":7,"5":10\}/,
                'distribution keyed "1".."5"');
        },
    },
    {
        name    => 'second page: the 5 oldest',
        request => ['GET', "/api/reviews/product/$LP?page=2"],
        status  => 200,
        json    => { data => { pagination => { page => 2, limit => 20, total => 25, pages => 2 },
                               summary => { count => 25 } } },
        then    => sub {
            is_deeply([map { $_->{comment} } @{ $_[0]{json}{data}{reviews} }],
                [map { "Comentario número $_" } 21 .. 25], 'reviews 21..25 in order');
        },
    },
    {
        # Protects: a page past the end is an empty page, not an error.
        name    => 'page past the end: empty, with the true total',
        request => ['GET', "/api/reviews/product/$LP?page=3"],
        status  => 200,
        json    => { data => { reviews => [], pagination => { page => 3, limit => 20, total => 25, pages => 2 },
                               summary => { count => 25, average => '3.8' } } },
    },
    {
        name    => 'limit=7&page=4: the last 4',
        request => ['GET', "/api/reviews/product/$LP?limit=7&page=4"],
        status  => 200,
        json    => { data => { pagination => { page => 4, limit => 7, total => 25, pages => 4 } } },
        then    => sub {
            is_deeply([map { $_->{comment} } @{ $_[0]{json}{data}{reviews} }],
                [map { "Comentario número $_" } 22 .. 25], 'reviews 22..25');
        },
    },
    {
        name    => 'limit=100: all 25 on one page',
        request => ['GET', "/api/reviews/product/$LP?limit=100"],
        status  => 200,
        json    => { data => { pagination => { page => 1, limit => 100, total => 25, pages => 1 } } },
        then    => sub { is(scalar @{ $_[0]{json}{data}{reviews} }, 25, '25 reviews') },
    },
    {
        name    => 'limit=1: one review, 25 pages',
        request => ['GET', "/api/reviews/product/$LP?limit=1&page=25"],
        status  => 200,
        json    => { data => { pagination => { page => 25, limit => 1, total => 25, pages => 25 },
                               reviews => [{ comment => 'Comentario número 25' }] } },
    },
    (map {
        my ($q, @f) = @$_;
        {
            # Protects: out-of-range or malformed paging is a 400 naming the parameter.
            name    => "paging refused: ?$q",
            request => ['GET', "/api/reviews/product/$LP?$q"],
            status  => 400,
            code    => 'VALIDATION_ERROR',
            fields  => \@f,
        }
    } ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=-1', 'limit'], ['page=0', 'page'],
      ['page=abc', 'page'], ['limit=2.5', 'limit'], ['page=0&limit=500', 'page', 'limit']),
    {
        name    => 'a product nobody reviewed: empty list, zero summary',
        request => ['GET', "/api/reviews/product/$EMPTY"],
        status  => 200,
        json    => { data => {
            reviews    => [],
            summary    => { average => 0, count => 0, distribution => { map { $_ => 0 } 1 .. 5 } },
            pagination => { page => 1, limit => 20, total => 0, pages => 0 },
        } },
    },
    (map {
        my $id = $_;
        {
            # Protects: an id that cannot be a product's is a client mistake, not a query.
            name    => "malformed product id '$id'",
            request => ['GET', "/api/reviews/product/$id"],
            status  => 400,
            code    => 'VALIDATION_ERROR',
            fields  => ['productId'],
        }
    } 'aml001', 'A' x 33, 'AML%27001', 'AML%20001', '%C3%91U'),
    {
        # /api/reviews/product is /api/reviews/:id with id "product", which only has PUT and DELETE.
        name    => 'GET /api/reviews/product/ without an id: 405',
        request => ['GET', '/api/reviews/product/'],
        status  => 405,
        code    => 'METHOD_NOT_ALLOWED',
        headers_like => { Allow => qr/^(?=.*\bPUT\b)(?=.*\bDELETE\b)(?!.*\bGET\b)/ },
    },
    {
        name    => 'an invalid token is refused even on the public list',
        request => ['GET', "/api/reviews/product/$LP"],
        token   => sub { mint_jwt({ sub => '5' }, bad_signature => 1) },
        status  => 401,
        code    => 'UNAUTHORIZED',
    },

    # ---- writing ----------------------------------------------------------------------------------
    {
        # Protects: writing needs a signed-in user.
        name    => 'anonymous POST: 401',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", $GOOD] },
        status  => 401,
        code    => 'UNAUTHORIZED',
        headers_like => { 'WWW-Authenticate' => qr/^Bearer\b/ },
    },
    {
        name    => 'expired token: 401 at the gateway',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", $GOOD] },
        token   => sub { mint_jwt({ sub => '5', exp => time - 3600, iat => time - 7200 }) },
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'a customer reviews a product: 201',
        skip    => $NO_CATALOG,
        setup   => sub { $ctx{a} = customer() },
        request => sub { ['POST', "/api/reviews/product/$P1",
                          { rating => 5, title => '  Precioso ramo  ',
                            comment => "Llegó puntual.\nLas flores duraron dos semanas.\tGracias" }] },
        token   => sub { $ctx{a}{token} },
        status  => 201,
        json    => { data => { review => {
            productId => sub { $_[0] eq $P1 }, rating => 5, title => 'Precioso ramo',
            comment => "Llegó puntual.\nLas flores duraron dos semanas.\tGracias",
            authorName => 'Cliente', verifiedPurchase => $FALSE, mine => $TRUE,
        } } },
        then => sub {
            my $rv = $_[0]{json}{data}{review};
            review_shape_ok($rv);
            $ctx{a}{review} = $rv->{id};
            my $row = stored($rv->{id});
            is_deeply($row, [$ctx{a}{id}, $P1, 5, 'Precioso ramo',
                "Llegó puntual.\nLas flores duraron dos semanas.\tGracias"], 'stored as answered');
        },
    },
    {
        name    => 'the new review is first in the list, marked mine for its author only',
        skip    => $NO_CATALOG,
        then    => sub {
            my $mine = list($P1, '?limit=100', $ctx{a}{token});
            success_ok($mine, 200, 'author reads the list');
            my ($rv) = grep { $_->{id} == $ctx{a}{review} } @{ $mine->{json}{data}{reviews} || [] };
            ok($rv && $rv->{mine}, 'mine is true for the author');
            is($mine->{json}{data}{reviews}[0]{id}, $ctx{a}{review}, 'newest first');
            my $other = list($P1, '?limit=100', customer()->{token});
            ($rv) = grep { $_->{id} == $ctx{a}{review} } @{ $other->{json}{data}{reviews} || [] };
            ok($rv && !$rv->{mine}, 'mine is false for another customer');
        },
    },
    {
        # Protects: one review per user and product (the unique index decides).
        name    => 'the same customer again on the same product: 409 ALREADY_REVIEWED',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", { rating => 1, comment => 'Cambié de opinión, otra vez.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 409,
        code    => 'ALREADY_REVIEWED',
        then    => sub {
            is(count_for($ctx{a}{id}, $P1), 1, 'still one review');
            is(stored($ctx{a}{review})->[2], 5, 'the first one unchanged');
        },
    },
    {
        name    => 'two concurrent first reviews by one customer: one 201, one 409',
        skip    => $NO_CATALOG,
        then    => sub {
            my $c = customer();
            my @pids;
            for my $i (1 .. 4) {
                my $pid = fork;
                die "fork: $!" unless defined $pid;
                if (!$pid) {
                    my $r = post_review($P2, { rating => $i, comment => "Intento simultáneo $i" }, $c->{token});
                    POSIX::_exit($r->{status} == 201 ? 0 : $r->{status} == 409 ? 1 : 2);
                }
                push @pids, $pid;
            }
            my %rc;
            for my $pid (@pids) { waitpid $pid, 0; $rc{$? >> 8}++ }
            is($rc{0} // 0, 1, 'exactly one 201');
            is($rc{1} // 0, 3, 'the others 409');
            is(count_for($c->{id}, $P2), 1, 'one row');
        },
    },
    {
        name    => 'the same customer on another product: 201',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P2", { rating => 3, comment => 'Bonito pero pequeño.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 201,
        json    => { data => { review => { productId => sub { $_[0] eq $P2 }, rating => 3, title => undef } } },
    },
    {
        # Protects: a review cannot be written for a product the catalogue does not have.
        name    => 'unknown product: 404 NOT_FOUND, nothing stored',
        skip    => $NO_CATALOG,
        setup   => sub { $ctx{ghost} = 'NOPE' . uc random_hex(4); $ctx{g} = customer() },
        request => sub { ['POST', "/api/reviews/product/$ctx{ghost}", $GOOD] },
        token   => sub { $ctx{g}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
        then    => sub {
            is(pg_value('SELECT count(*) FROM reviews.reviews WHERE product_id = $1', $ctx{ghost}), 0,
                'no row');
        },
    },
    {
        # Protects: a product withdrawn from sale (soft-deleted) takes no new reviews, while
        # its existing reviews stay readable.
        name    => 'a withdrawn product: no new reviews (404), old ones still listed',
        skip    => $NO_CATALOG,
        then    => sub {
            my $adm = admin();
            my $pid = 'ZW' . uc random_hex(5);
            my $cr = api('POST', '/api/products', { id => $pid, name => 'Ramo retirado', price => 1000,
                description => 'Un ramo que se retira de la venta.', category => 'pruebas' }, bearer($adm->{token}));
            is($cr->{status}, 201, "an administrator creates $pid") or return diag($cr->{raw});
            cleanup(sub { pg('DELETE FROM reviews.reviews WHERE product_id = $1', $pid) });
            my $c = customer();
            is(post_review($pid, $GOOD, $c->{token})->{status}, 201, 'reviewed while on sale');
            is(api('DELETE', "/api/products/$pid", undef, bearer($adm->{token}))->{status}, 200, 'withdrawn');
            my $r = post_review($pid, $GOOD, customer()->{token});
            envelope_ok($r, 404, 'NOT_FOUND', 'a new review: 404 NOT_FOUND');
            my $l = list($pid);
            is($l->{status} == 200 && $l->{json}{data}{summary}{count}, 1, 'the old review is still listed');
        },
    },
    {
        name    => 'malformed product id on POST: 400',
        skip    => $NO_CATALOG,
        request => ['POST', '/api/reviews/product/abc$ne', $GOOD],
        token   => sub { customer()->{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['productId'],
    },

    # ---- every field refused, and the limits accepted -------------------------------------------
    invalid('empty object: rating and comment required', {}, qw(rating comment)),
    invalid('everything wrong at once', { rating => 0, title => 'T' x 121, comment => 'corto' },
        qw(rating title comment)),
    (map { my $v = $_; invalid('rating ' . $JSON->encode([$v]), { %$GOOD, rating => $v }, 'rating') }
        0, 6, -1, 4.5, '5', JSON::PP::true, [5], { n => 5 }, 1e10),
    invalid('rating null', { %$GOOD, rating => undef }, 'rating'),
    invalid('title of 121 characters', { %$GOOD, title => 'ñ' x 121 }, 'title'),
    invalid('title with a line break', { %$GOOD, title => "Dos\nlíneas" }, 'title'),
    invalid('title not a string', { %$GOOD, title => 12 }, 'title'),
    invalid('comment of 9 characters', { %$GOOD, comment => 'ñ' x 9 }, 'comment'),
    invalid('comment of 9 characters once trimmed', { %$GOOD, comment => '   123456789   ' }, 'comment'),
    invalid('comment of 2001 characters', { %$GOOD, comment => 'á' x 2001 }, 'comment'),
    invalid('comment with a control character', { %$GOOD, comment => "Hola\x{01} mundo cruel" }, 'comment'),
    invalid('comment missing', { rating => 3, title => 'Sin comentario' }, 'comment'),
    invalid('comment not a string', { rating => 3, comment => ['una', 'lista'] }, 'comment'),
    invalid('a JSON array instead of an object', [1, 2], 'body'),
    accepted('title of 120 multi-byte characters, comment of 10',
        { rating => 1, title => 'ñ' x 120, comment => 'ü' x 10 },
        sub { is(length $_[0]{title}, 120, 'title kept whole'); is($_[0]{comment}, 'ü' x 10, 'comment kept') }),
    accepted('comment of 2000 characters', { rating => 2, comment => 'é' x 2000 },
        sub { is(length $_[0]{comment}, 2000, '2000 characters kept') }),
    accepted('empty title: no title', { rating => 3, title => '   ', comment => 'Todo bien, gracias.' },
        sub { is($_[0]{title}, undef, 'title null') }),
    accepted('title null; unknown fields ignored',
        { rating => 4, title => undef, comment => 'Todo muy bien, gracias.', userId => 1, verifiedPurchase => JSON::PP::true },
        sub {
            ok($FALSE->($_[0]{verifiedPurchase}), 'verifiedPurchase is not the client\'s to set');
            is(stored($_[0]{id})->[0], $_[1]{id}, 'the author is the token\'s subject, not a body field');
        }),
    {
        name    => 'malformed JSON: 400 INVALID_JSON',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", '{"rating": 5, "comment": '] },
        token   => sub { customer()->{token} },
        status  => 400,
        code    => 'INVALID_JSON',
    },
    {
        name    => 'a body that is not JSON: 415',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", 'rating=5'] },
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
        token   => sub { customer()->{token} },
        status  => 415,
        code    => 'UNSUPPORTED_MEDIA_TYPE',
    },

    # ---- SQL metacharacters ---------------------------------------------------------------------
    {
        # Protects: input travels as parameters; quotes, comments and wildcards are text.
        name    => 'SQL metacharacters stored and shown literally',
        skip    => $NO_CATALOG,
        setup   => sub {
            $ctx{sql} = customer();
            $ctx{sql_title} = q{'; DROP TABLE reviews; --};
            $ctx{sql_comment} = q{Robert'); DELETE FROM reviews WHERE ('1'='1 %_\\ $1 "x" /* */ ;};
        },
        request => sub { ['POST', "/api/reviews/product/$P1",
                          { rating => 2, title => $ctx{sql_title}, comment => $ctx{sql_comment} }] },
        token   => sub { $ctx{sql}{token} },
        status  => 201,
        then    => sub {
            my $rv = $_[0]{json}{data}{review};
            is($rv->{title}, $ctx{sql_title}, 'title as sent');
            is($rv->{comment}, $ctx{sql_comment}, 'comment as sent');
            my $row = stored($rv->{id});
            is($row->[3], $ctx{sql_title}, 'title stored literally');
            is($row->[4], $ctx{sql_comment}, 'comment stored literally');
            is(pg_value('SELECT count(*) FROM reviews.reviews WHERE product_id = $1', $LP), 25,
                'other reviews untouched');
            my $again = list($P1, '?limit=100');
            my ($seen) = grep { $_->{id} == $rv->{id} } @{ $again->{json}{data}{reviews} || [] };
            is($seen && $seen->{comment}, $ctx{sql_comment}, 'listed literally');
        },
    },

    # ---- editing ----------------------------------------------------------------------------------
    {
        name    => 'the author replaces the review: 200',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{a}{review}", { rating => 3, comment => 'Lo pensé mejor: regular.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 200,
        json    => { data => { review => { id => sub { $_[0] == $ctx{a}{review} }, rating => 3,
                                           title => undef, comment => 'Lo pensé mejor: regular.',
                                           mine => $TRUE } } },
        then    => sub {
            my $rv = $_[0]{json}{data}{review};
            review_shape_ok($rv);
            ok($rv->{updatedAt} gt $rv->{createdAt}, 'updatedAt moved past createdAt');
            is_deeply(stored($ctx{a}{review}), [$ctx{a}{id}, $P1, 3, '<null>', 'Lo pensé mejor: regular.'],
                'replaced in the store (no title: title removed)');
        },
    },
    {
        # Protects: only the author or an administrator may change a review.
        name    => 'another customer may not edit it: 403 FORBIDDEN, unchanged',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{a}{review}", { rating => 1, comment => 'Reseña secuestrada!' }] },
        token   => sub { customer()->{token} },
        status  => 403,
        code    => 'FORBIDDEN',
        then    => sub { is(stored($ctx{a}{review})->[2], 3, 'rating unchanged') },
    },
    {
        name    => 'an administrator may edit it: 200',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{a}{review}",
                          { rating => 4, title => 'Moderado', comment => 'Texto moderado por la tienda.' }] },
        token   => sub { admin()->{token} },
        status  => 200,
        json    => { data => { review => { rating => 4, title => 'Moderado', mine => $FALSE } } },
        then    => sub { is(stored($ctx{a}{review})->[0], $ctx{a}{id}, 'still the author\'s review') },
    },
    {
        name    => 'anonymous PUT: 401 at the gateway',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{a}{review}", $GOOD] },
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'PUT with bad fields: 400 listing them, unchanged',
        skip    => $NO_CATALOG,
        request => sub { ['PUT', "/api/reviews/$ctx{a}{review}", { rating => 9, comment => '' }] },
        token   => sub { $ctx{a}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(rating comment)],
        then    => sub { is(stored($ctx{a}{review})->[2], 4, 'rating unchanged') },
    },
    (map {
        my $id = $_;
        {
            name    => "PUT /api/reviews/$id: 404",
            request => ['PUT', "/api/reviews/$id", $GOOD],
            token   => sub { admin()->{token} },
            status  => 404,
            code    => 'NOT_FOUND',
        }
    } '999999999999', 'abc', '0', '-3', '1.5'),

    # ---- deleting ---------------------------------------------------------------------------------
    {
        name    => 'another customer may not delete it: 403',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{a}{review}"] },
        token   => sub { customer()->{token} },
        status  => 403,
        code    => 'FORBIDDEN',
        then    => sub { ok(stored($ctx{a}{review}), 'still there') },
    },
    {
        name    => 'anonymous DELETE: 401',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{a}{review}"] },
        status  => 401,
        code    => 'UNAUTHORIZED',
    },
    {
        name    => 'the author deletes it: 200',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{a}{review}"] },
        token   => sub { $ctx{a}{token} },
        status  => 200,
        json    => { data => { id => sub { $_[0] == $ctx{a}{review} } } },
        then    => sub { ok(!stored($ctx{a}{review}), 'gone from the store') },
    },
    {
        name    => 'deleting it again: 404',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{a}{review}"] },
        token   => sub { $ctx{a}{token} },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'after deleting, the author may review the product again: 201',
        skip    => $NO_CATALOG,
        request => sub { ['POST', "/api/reviews/product/$P1", { rating => 5, comment => 'Segunda oportunidad, excelente.' }] },
        token   => sub { $ctx{a}{token} },
        status  => 201,
        then    => sub { $ctx{a}{review2} = $_[0]{json}{data}{review}{id} },
    },
    {
        name    => 'an administrator deletes another customer\'s review: 200',
        skip    => $NO_CATALOG,
        request => sub { ['DELETE', "/api/reviews/$ctx{a}{review2}"] },
        token   => sub { admin()->{token} },
        status  => 200,
        then    => sub { ok(!stored($ctx{a}{review2}), 'gone') },
    },
    {
        name    => 'POST on /api/reviews/:id is not a route: 405',
        request => ['POST', '/api/reviews/1', $GOOD],
        token   => sub { customer()->{token} },
        status  => 405,
        code    => 'METHOD_NOT_ALLOWED',
    },
]);

cleanup(sub { pg('DELETE FROM reviews.reviews WHERE product_id = $1', $LP) });

finish();
