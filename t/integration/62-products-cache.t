#!/usr/bin/perl
# 62-products-cache.t: fast public reads.  Catalogue GETs carry a strong ETag and
# Cache-Control, answer 304 to If-None-Match (the gateway from its cache, the service itself
# too), and are served by nginx's cache without reaching the service; the key ignores
# argument order and arguments the service does not read; administrators bypass it; and an
# admin write is seen by the very next read, on either nginx worker (no stale listing or
# product after a successful change).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $ADMIN = mint_jwt({ sub => '900000201', email => 'admin62@example.com', role => 'admin',
                       exp => time + 3600 });
my $CUSTOMER = mint_jwt({ sub => '900000202', email => 'cliente62@example.com', exp => time + 3600 });

my $TAG = uc random_hex(4);
my $CAT = 't62_' . lc $TAG;
my $X = "T62${TAG}X";
my $Y = "T62${TAG}Y";
my $ETAG = qr/^"[0-9a-f]{32}"\z/;

sub product_body {
    my ($id, %over) = @_;
    return { id => $id, name => "Caché $id", description => 'Un producto para probar la caché',
             price => 15000, category => $CAT, stock => 4, %over };
}

# The product service's request counter for one route pattern (all statuses).
sub served {
    my $route = shift;
    return metric_sum("$ENV{FLORES_INTERNAL_URL}/services/product/metrics", 'flores_http_requests_total',
        { service => 'product', route => $route }) // -1;
}

sub cache_status { return header($_[0], 'X-Cache-Status') // '' }

sub ids {
    my $r = shift;
    return join ',', map { $_->{id} } @{ (ref $r->{json} eq 'HASH' ? $r->{json}{data}{products} : undef) || [] };
}

# Reads until the answer comes from the cache (a miss, a concurrent update, ... come first).
sub until_hit {
    my ($path, $headers) = @_;
    my $r;
    for (1 .. 10) {
        $r = api('GET', $path, undef, $headers);
        return $r if cache_status($r) eq 'HIT';
    }
    return $r;
}

my %ctx;

run_blocks([
    {
        name    => 'fixture: a product of this run',
        request => ['POST', '/api/products', product_body($X)],
        token   => $ADMIN,
        status  => 201,
        # Protects: the invalidation header is the gateway's business, never the client's.
        headers_like => { 'X-Flores-Cache-Invalidate' => undef, 'Cache-Control' => 'no-store' },
    },

    # ---- ETag and Cache-Control --------------------------------------------------------------
    {
        name    => 'a public read: a strong ETag, Cache-Control public, no-cache',
        request => ['GET', "/api/products/$X"],
        status  => 200,
        headers_like => { ETag => $ETAG, 'Cache-Control' => 'public, no-cache', 'X-Cache-Status' => qr/^(?:MISS|HIT)\z/ },
        then    => sub { $ctx{etag} = header($_[0], 'ETag') },
    },
    {
        name    => 'the same read again: the same ETag, from the cache',
        request => ['GET', "/api/products/$X"],
        status  => 200,
        headers_like => { 'X-Cache-Status' => 'HIT', 'Cache-Control' => 'public, no-cache' },
        then    => sub { is(header($_[0], 'ETag'), $ctx{etag}, 'same ETag') },
    },
    {
        name    => 'If-None-Match with the ETag: 304, no body',
        request => ['GET', "/api/products/$X"],
        headers => sub { { 'If-None-Match' => $ctx{etag} } },
        status  => 304,
        raw     => 1,
        then    => sub {
            my $r = shift;
            is($r->{raw}, '', 'no body');
            is(header($r, 'ETag'), $ctx{etag}, 'the ETag again');
        },
    },
    {
        name    => 'If-None-Match weak, or in a list: 304',
        request => ['GET', "/api/products/$X"],
        headers => sub { { 'If-None-Match' => qq{"0000", W/$ctx{etag}} } },
        status  => 304,
        raw     => 1,
    },
    {
        name    => 'If-None-Match with another tag: 200',
        request => ['GET', "/api/products/$X"],
        headers => { 'If-None-Match' => '"00000000000000000000000000000000"' },
        status  => 200,
    },
    {
        name    => 'listings, categories and occasions carry them too',
        then    => sub {
            for my $p ("/api/products?category=$CAT", '/api/products/categories', '/api/products/occasions') {
                my $r = api('GET', $p);
                like(header($r, 'ETag') // '', $ETAG, "$p: ETag");
                is(header($r, 'Cache-Control'), 'public, no-cache', "$p: Cache-Control");
                my $nm = api('GET', $p, undef, { 'If-None-Match' => header($r, 'ETag') });
                is($nm->{status}, 304, "$p: 304 to its ETag");
            }
        },
    },
    {
        # Protects: the service computes ETags and 304s itself too (requests that bypass the
        # gateway's cache, other gateways): one FastCGI request straight to it.
        name => 'the service itself: the same ETag, and 304 to it',
        then => sub {
            my $sock = service_socket('product');
            my %env = (REQUEST_METHOD => 'GET', DOCUMENT_URI => "/api/products/$X", QUERY_STRING => '',
                       SCRIPT_NAME => "/api/products/$X", FLORES_REQUEST_ID => 'itest-cgi-1',
                       FLORES_GATEWAY_KEY => gateway_key());
            my $full = run_cmd(['cgi-fcgi', '-bind', '-connect', $sock], env => \%env, timeout => 10);
            like($full->{out}, qr/^Status: 200/m, 'direct: 200');
            my ($tag) = $full->{out} =~ /^ETag: (\S+)\r?$/m;
            is($tag, $ctx{etag}, 'direct: the ETag the gateway gave');
            my $nm = run_cmd(['cgi-fcgi', '-bind', '-connect', $sock],
                env => { %env, HTTP_IF_NONE_MATCH => $ctx{etag} }, timeout => 10);
            like($nm->{out}, qr/^Status: 304/m, 'direct: 304 to If-None-Match');
            unlike($nm->{out}, qr/"status"/, 'direct: no body with the 304');
        },
    },

    # ---- served from the cache -----------------------------------------------------------------
    {
        # Protects: a hot product never reaches the service.
        name => 'ten reads of a cached product: none reaches the service',
        then => sub {
            until_hit("/api/products/$X");
            my $before = served('/api/products/:id');
            my @st = map { cache_status(api('GET', "/api/products/$X")) } 1 .. 10;
            is_deeply(\@st, [('HIT') x 10], 'ten HITs');
            is(served('/api/products/:id'), $before, 'the service counted no request');
        },
    },
    {
        name => 'ten reads of a cached listing: none reaches the service',
        then => sub {
            until_hit("/api/products?category=$CAT&sort=price");
            my $before = served('/api/products');
            my @st = map { cache_status(api('GET', "/api/products?category=$CAT&sort=price")) } 1 .. 10;
            is_deeply(\@st, [('HIT') x 10], 'ten HITs');
            is(served('/api/products'), $before, 'the service counted no request');
        },
    },
    {
        # Protects: junk arguments and argument order make no new cache entries.
        name => 'argument order and arguments the service does not read: the same entry',
        then => sub {
            until_hit("/api/products?category=$CAT&sort=price");
            my $before = served('/api/products');
            for my $q ("sort=price&category=$CAT", "category=$CAT&sort=price&utm_source=x" . random_hex(4),
                       "_=" . random_hex(6) . "&sort=price&category=$CAT&fbclid=" . random_hex(8),
                       "category=$CAT&sort=price&category[\$ne]=x") {
                my $r = api('GET', "/api/products?$q");
                is(cache_status($r), 'HIT', "?$q: HIT");
                is(ids($r), $X, "?$q: the same listing");
            }
            is(served('/api/products'), $before, 'the service counted no request');
        },
    },
    {
        name => 'a customer\'s read shares the anonymous entry',
        then => sub {
            my $r = api('GET', "/api/products/$X", undef, bearer($CUSTOMER));
            is(cache_status($r), 'HIT', 'HIT');
            is(header($r, 'Cache-Control'), 'public, no-cache', 'public');
        },
    },
    {
        # Protects: administrators see withdrawn products: their reads never fill the cache.
        name    => 'an administrator\'s read bypasses the cache and is never kept',
        request => ['GET', "/api/products/$X"],
        token   => $ADMIN,
        status  => 200,
        headers_like => { 'X-Cache-Status' => 'BYPASS', 'Cache-Control' => 'private, no-store' },
    },
    {
        # Protects: nginx matches argument names case-insensitively and undecoded, the service
        # exactly and decoded: where they could disagree, nothing is cached.
        name => 'argument names the key could read otherwise than the service: bypass, and the service\'s answer',
        then => sub {
            my $r = api('GET', "/api/products?CATEGORY=$CAT&limit=1");
            is(cache_status($r), 'BYPASS', 'CATEGORY=: BYPASS');
            cmp_ok($r->{json}{data}{pagination}{total}, '>', 1, 'CATEGORY is no filter for the service');
            $r = api('GET', "/api/products?%63ategory=$CAT");
            is(cache_status($r), 'BYPASS', '%63ategory=: BYPASS');
            is(ids($r), $X, '%63ategory is category for the service');
            $r = api('GET', "/api/products?category=$CAT&category=$CAT");
            is(cache_status($r), 'BYPASS', 'a repeated name: BYPASS');
            is($r->{status}, 400, 'and the service refuses it');
            $r = api('GET', "/api/products?category=$CAT");
            is(ids($r), $X, 'the plain listing is still right');
        },
    },
    {
        name => 'errors are never cached (they name their request id)',
        then => sub {
            my $before = served('/api/products/:id');
            my @r = map { api('GET', "/api/products/${X}NOPE") } 1 .. 3;
            is_deeply([map { $_->{status} } @r], [404, 404, 404], 'three 404s');
            is(served('/api/products/:id'), $before + 3, 'each one answered by the service');
            isnt($r[0]{json}{requestId}, $r[1]{json}{requestId}, 'each with its own request id');
        },
    },

    # ---- an admin write is seen by the next read ------------------------------------------------
    {
        # Protects: no stale product after a successful change, whichever worker reads.
        name => 'twenty changes of price, each read back at once through the gateway',
        then => sub {
            my @bad;
            until_hit("/api/products/$X");
            for my $i (1 .. 20) {
                my $price = 15000 + $i;
                my $w = api('PATCH', "/api/products/$X", { price => $price }, bearer($ADMIN));
                push @bad, "write $i: $w->{status}" if $w->{status} != 200;
                my $r = api('GET', "/api/products/$X");
                my $got = $r->{json}{data}{product}{price} // 'none';
                push @bad, "read $i: price $got (" . cache_status($r) . ')' if $got ne $price;
                my $again = api('GET', "/api/products/$X");
                push @bad, "read $i again: " . ($again->{json}{data}{product}{price} // 'none')
                    if ($again->{json}{data}{product}{price} // '') ne $price;
            }
            ok(!@bad, 'every read saw the write before it') or diag(join "\n", @bad);
        },
    },
    {
        name => 'the old ETag no longer matches after a write',
        then => sub {
            my $r = api('GET', "/api/products/$X", undef, { 'If-None-Match' => $ctx{etag} });
            is($r->{status}, 200, '200, not 304');
            isnt(header($r, 'ETag'), $ctx{etag}, 'a new ETag');
        },
    },
    {
        # Protects: no stale listing after a product is added, changed, withdrawn.
        name => 'a cached listing shows a new product at once',
        then => sub {
            until_hit("/api/products?category=$CAT");
            my $w = api('POST', '/api/products', product_body($Y, price => 9000), bearer($ADMIN));
            is($w->{status}, 201, 'created');
            my $r = api('GET', "/api/products?category=$CAT");
            is(ids($r), "$Y,$X", 'listed at once (newest first)');
            is($r->{json}{data}{pagination}{total}, 2, 'total 2');
            is(ids(api('GET', "/api/products?category=$CAT&sort=price")), "$Y,$X", 'and in the sorted listing');
        },
    },
    {
        name => 'a stock change is seen at once',
        then => sub {
            until_hit("/api/products/$Y");
            my $w = api('PATCH', "/api/products/$Y/stock", { delta => -4 }, bearer($ADMIN));
            is($w->{status}, 200, 'stock changed');
            is(api('GET', "/api/products/$Y")->{json}{data}{product}{stock}, 0, 'stock 0 at once');
        },
    },
    {
        name => 'a replaced product is seen at once',
        then => sub {
            until_hit("/api/products/$Y");
            my $w = api('PUT', "/api/products/$Y", product_body($Y, name => 'Reemplazado', price => 9500), bearer($ADMIN));
            is($w->{status}, 200, 'replaced');
            my $p = api('GET', "/api/products/$Y")->{json}{data}{product};
            is("$p->{name} $p->{price}", 'Reemplazado 9500', 'new name and price at once');
        },
    },
    {
        name => 'a withdrawn product leaves listings and lookups at once',
        then => sub {
            until_hit("/api/products?category=$CAT");
            until_hit("/api/products/$Y");
            my $before = api('GET', '/api/products/categories')->{json}{data}{categories};
            my $w = api('DELETE', "/api/products/$Y", undef, bearer($ADMIN));
            is($w->{status}, 200, 'withdrawn');
            is(ids(api('GET', "/api/products?category=$CAT")), $X, 'gone from the listing');
            is(api('GET', "/api/products/$Y")->{status}, 404, 'not found');
            my ($c) = grep { $_->{slug} eq $CAT } @{ api('GET', '/api/products/categories')->{json}{data}{categories} };
            is($c->{count}, 1, 'the category count follows');
        },
    },
    {
        name => 'a refused write changes nothing and the cache keeps serving',
        then => sub {
            until_hit("/api/products/$X");
            my $w = api('PATCH', "/api/products/$X", { price => -1 }, bearer($ADMIN));
            is($w->{status}, 400, 'refused');
            is(cache_status(api('GET', "/api/products/$X")), 'HIT', 'still a HIT');
            $w = api('PATCH', "/api/products/$X", { price => 1 });
            is($w->{status}, 401, 'anonymous write refused');
            is(cache_status(api('GET', "/api/products/$X")), 'HIT', 'still a HIT');
        },
    },
    {
        name => 'the gateway counts the bumps',
        then => sub {
            my $n = metric_sum($ENV{FLORES_METRICS_URL}, 'flores_gateway_cache_bumps_total', { zone => 'catalog' });
            cmp_ok($n // 0, '>=', 25, 'at least the writes of this file');
        },
    },
]);

finish();
