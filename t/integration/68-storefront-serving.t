#!/usr/bin/perl
# 68-storefront-serving.t: the gateway serves the storefront (web/) beside the API without
# disturbing it.  Pages: every non-API path is index.html, never cached, with the security
# headers; assets under a versioned prefix, cached for a year, compressed, with their media
# types; product images always answer (the placeholder stands in for a missing one); unknown
# API paths and the internal listener's pages stay JSON 404s; API answers get no page headers
# and no compression.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $CSP = qr/default-src 'self'; script-src 'self'/;

# ---- the page
for my $path ('/', '/producto/AML001', '/pedidos/12', '/restablecer-clave?token=abc') {
    my $r = api('GET', $path);
    is($r->{status}, 200, "GET $path: 200");
    like(header($r, 'Content-Type') // '', qr{^text/html}, "$path: text/html");
    like($r->{raw}, qr{<main id="main"}, "$path: the storefront's page");
    like(header($r, 'Content-Security-Policy') // '', $CSP, "$path: CSP");
    like(header($r, 'Content-Security-Policy') // '', qr/frame-ancestors 'none'/, "$path: frame-ancestors 'none'");
    is(header($r, 'X-Content-Type-Options'), 'nosniff', "$path: nosniff");
    ok(header($r, 'Referrer-Policy'), "$path: Referrer-Policy");
    like(header($r, 'Cache-Control') // '', qr/no-cache/, "$path: never cached without revalidation");
    like(header($r, 'X-Request-ID') // '', qr/^[A-Za-z0-9._-]+\z/, "$path: X-Request-ID");
}

my $page = api('GET', '/');
unlike($page->{raw}, qr{<script(?![^>]*\bsrc=)[^>]*>}i, 'no inline script in the page');
unlike($page->{raw}, qr{\bstyle=|<style}i, 'no inline style in the page');
my ($src) = $page->{raw} =~ m{<script type="module" src="([^"]+)"};
like($src // '', qr{^/a/[0-9a-f]{12}/js/app\.js\z}, 'the entry module under a versioned prefix');

# ---- assets
my $js = api('GET', $src, undef, { 'Accept-Encoding' => 'gzip' });
is($js->{status}, 200, 'the entry module: 200');
like(header($js, 'Content-Type') // '', qr{^text/javascript}, 'JavaScript media type');
like(header($js, 'Cache-Control') // '', qr/max-age=31536000/, 'cached for a year');
like(header($js, 'Cache-Control') // '', qr/immutable/, 'immutable');
is(header($js, 'Content-Encoding'), 'gzip', 'compressed');
like(header($js, 'Content-Security-Policy') // '', $CSP, 'CSP on assets too');
ok(!defined header($js, 'RateLimit'), 'assets are not counted against the API limits');
(my $css = $src) =~ s{js/app\.js\z}{css/app.css};
like(header(api('GET', $css), 'Content-Type') // '', qr{^text/css}, 'CSS media type');
my $missing = api('GET', '/a/abc123/js/no-such-module.js');
envelope_ok($missing, 404, 'NOT_FOUND', 'a missing asset is a 404, not the page');
my $dots = api('GET', '/a/abc123/js/../../../../etc/passwd');
unlike($dots->{raw}, qr/root:/, 'nothing outside web/ (dot segments)');
is(api('GET', '/a/abc123/js/%2e%2e/%2e%2e/robots.txt')->{status}, 404, 'nor through encoded dots');

# ---- product images
my $img = api('GET', '/images/productos/no-such-photo.webp');
is($img->{status}, 200, 'a missing product image answers 200');
like(header($img, 'Content-Type') // '', qr{^image/svg\+xml}, 'with the placeholder');
like(header($img, 'Cache-Control') // '', qr/max-age=86400/, 'cached for a day');

# ---- the API is untouched
my $list = api('GET', '/api/products?limit=1', undef, { 'Accept-Encoding' => 'gzip' });
success_ok($list, 200, 'API list');
ok(!defined header($list, 'Content-Encoding'), 'API answers are not compressed here');
ok(!defined header($list, 'Content-Security-Policy'), 'API answers carry no page CSP');
envelope_ok(api('GET', '/api/no-such-thing'), 404, 'NOT_FOUND', 'unknown API path: JSON 404');
for my $p ('/metrics', '/breakers', '/services/auth/health', '/internal/product/api/products') {
    envelope_ok(api('GET', $p), 404, 'NOT_FOUND', "$p is not the page");
}
my $post = api('POST', '/', {});
ok($post->{status} == 405 || $post->{status} == 404, "POST / is refused ($post->{status})");
ok($post->{json} && $post->{json}{status} eq 'fail', 'in the envelope');

done_testing();
