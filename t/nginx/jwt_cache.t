# jwt_cache.t: flores_jwt_cache, each worker's cache of verified tokens. A
# token sent again skips only the signature check: its expiry is checked on
# every use (a cached token is refused once it expires), and so are the
# issuer, the audience and the role of each location; a token is never found
# under another key or algorithm; a forged token is never taken for the
# cached one; the variables of a cache hit are those of the first check; a
# full cache evicts its least recently used token and stays correct.
# $flores_jwt_cache (miss, hit) shows which path each request took.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

our %T;

my $now = time;
my $secret = 's' x 48 . '-0123456789abcdef';       # 65 bytes: HS512 too
my $other = 'o' x 40;

key_dir();
write_secret('hs.key', $secret);
write_secret('other.key', $other);

my %claims = (
    sub   => '42',
    email => 'ana@example.cl',
    role  => 'customer',
    iss   => 'flores-victoria',
    aud   => 'flores-victoria-api',
    iat   => $now,
    exp   => $now + 600,
    sid   => 'family-7',
);

sub hs { my (%c) = @_; jwt(key => $secret, claims => { %claims, %c }) }

my $good = hs();
my ($h, $p, $s) = split /\./, $good;
my $flipped = $s;
substr($flipped, 5, 1) = substr($flipped, 5, 1) eq 'A' ? 'B' : 'A';

# The last of the 43 characters of an HS256 signature carries 2 bits that
# are not data: setting one spells the same bytes another way.
my $respelled = $s;
substr($respelled, -1, 1) =~ tr/AEIMQUYcgkosw048/BFJNRVZdhlptx159/;

%T = (
    good       => $good,
    bad_sig    => "$h.$p.$flipped",
    respelled  => "$h.$p.$respelled",
    forged     => "$h." . (split /\./, hs(role => 'admin'))[1] . ".$s",
    admin      => hs(role => 'admin'),
    numbers    => hs(sub => 42, level => 3, tags => ['a', 'b'], vip => JSON::PP::true,
                     note => "ñandú/1", nested => { k => [1, 'x'] }),
    newline    => hs(email => "ana\@example.cl\r\nX-Injected: 1"),
    other_key  => jwt(key => $other, claims => \%claims),
    one        => hs(sub => '1'),
    two        => hs(sub => '2'),
    three      => hs(sub => '3'),
    exp_300    => hs(exp => $now - 300),
    expired    => hs(iat => $now - 7200, exp => $now - 3600),
    aud_array  => hs(aud => ['shop', 'flores-victoria-api']),
);

my $config = <<'_EOC_';
    flores_jwt_key_file  $TEST_NGINX_KEYS/hs.key;
    flores_jwt_issuer    flores-victoria;
    flores_jwt_audience  flores-victoria-api;

    add_header X-Jwt-Error $flores_jwt_error always;
    add_header X-Jwt-Cache $flores_jwt_cache always;

    proxy_set_header X-Jwt-Sub    $flores_jwt_sub;
    proxy_set_header X-Jwt-Role   $flores_jwt_role;
    proxy_set_header X-Jwt-Email  $flores_jwt_email;
    proxy_set_header X-Jwt-Sid    $flores_jwt_claim_sid;
    proxy_set_header X-Jwt-Level  $flores_jwt_claim_level;
    proxy_set_header X-Jwt-Tags   $flores_jwt_claim_tags;
    proxy_set_header X-Jwt-Vip    $flores_jwt_claim_vip;
    proxy_set_header X-Jwt-Note   $flores_jwt_claim_note;
    proxy_set_header X-Jwt-Nested $flores_jwt_claim_nested;

    location /hs {
        flores_jwt on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /strict {
        flores_jwt on;
        flores_jwt_leeway 0s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /lenient {
        flores_jwt on;
        flores_jwt_leeway 10m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /admin {
        flores_jwt on;
        flores_jwt_require_role admin;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /other-aud {
        flores_jwt on;
        flores_jwt_audience another-api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /other-iss {
        flores_jwt on;
        flores_jwt_issuer someone-else;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /any-iss {
        flores_jwt on;
        flores_jwt_issuer off-the-record;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;

        location /any-iss/none {
            flores_jwt on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
        }
    }

    location /hs512 {
        flores_jwt on;
        flores_jwt_algorithm HS512;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /other-key {
        flores_jwt on;
        flores_jwt_key_file $TEST_NGINX_KEYS/other.key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /optional {
        flores_jwt optional;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /down {
        flores_jwt on;
        error_page 502 = @down;
        proxy_pass http://127.0.0.1:1;
    }

    location @down {
        return 503 "down sub=$flores_jwt_sub role=$flores_jwt_role cache=$flores_jwt_cache\n";
    }

    location /open {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        add_header X-Backend reached;
        return 200 "sub=$http_x_jwt_sub role=$http_x_jwt_role email=$http_x_jwt_email sid=$http_x_jwt_sid level=$http_x_jwt_level tags=$http_x_jwt_tags vip=$http_x_jwt_vip note=$http_x_jwt_note nested=$http_x_jwt_nested\n";
    }
_EOC_

default_blocks(config => $config);

# SHORT(name:seconds) in more_headers: an HS256 token that expires that many
# seconds after its block starts, also kept as $::T{name} for --- init.
add_block_preprocessor(sub {
    my $block = shift;
    my $h = $block->more_headers;
    return unless defined $h;

    my $short = sub {
        my ($name, $secs) = split /:/, shift;
        my $exp = time + $secs;
        $T{"${name}_exp"} = $exp;
        $T{$name} = hs(iat => time, exp => $exp);
        return $T{$name};
    };

    if (ref $h eq 'ARRAY') {
        s/SHORT\(([^)]*)\)/$short->($1)/ge for @$h;
    } else {
        $h =~ s/SHORT\(([^)]*)\)/$short->($1)/ge;
    }

    $block->set_value('more_headers', $h);
});

# One request on its own connection, from --- init: the status and the
# X-Jwt-Cache and X-Jwt-Error headers.
sub get {
    my ($path, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!\n";
    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n"
               . "Authorization: Bearer $token\r\n\r\n";
    local $/;
    my $answer = <$s> // '';
    my ($status) = $answer =~ m{^HTTP/1\.\d (\d+)};
    my ($cache) = $answer =~ /^X-Jwt-Cache: ([^\r\n]*)/mi;
    my ($error) = $answer =~ /^X-Jwt-Error: ([^\r\n]*)/mi;
    return join ' ', $status // 0, $cache // '-', $error // '-';
}

run_tests();

__DATA__

=== TEST 1: the same token twice: checked in full, then found in the cache, with the same variables
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Jwt-Cache: miss\nX-Backend: reached", "X-Jwt-Cache: hit\nX-Backend: reached\n!X-Jwt-Error"]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n"]



=== TEST 2: claims that are not strings, UTF-8 and slashes: the same text from the cache
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{numbers}", "Authorization: Bearer $::T{numbers}"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit"]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level=3 tags=[\"a\",\"b\"] vip=true note=ñandú/1 nested={\"k\":[1,\"x\"]}\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level=3 tags=[\"a\",\"b\"] vip=true note=ñandú/1 nested={\"k\":[1,\"x\"]}\n"]



=== TEST 3: a claim with control characters stays unsent from the cache too
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{newline}", "Authorization: Bearer $::T{newline}"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit"]
--- response_body eval
["sub=42 role=customer email= sid=family-7 level= tags= vip= note= nested=\n",
 "sub=42 role=customer email= sid=family-7 level= tags= vip= note= nested=\n"]
--- error_log
flores jwt: claim "email" has control characters



=== TEST 4: a cached token is refused once it expires (leeway 0): its expiry is checked on every use
--- init
my $t = $::T{short};
Test::More::is(::get('/strict', $t), '200 miss -', 'accepted, checked in full');
Test::More::is(::get('/strict', $t), '200 hit -', 'accepted from the cache');
# past exp by a second at least, on nginx's clock too
sleep 1 while time <= $::T{short_exp} + 1;
--- request
GET /strict
--- more_headers
Authorization: Bearer SHORT(short:2)
--- error_code: 401
--- response_headers
X-Jwt-Error: expired
X-Jwt-Cache: hit
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"
!X-Backend
--- response_body_like: "message":"El token de acceso expiró"



=== TEST 5: within the leeway of one location, expired at another: the cache holds the token, each location its leeway
--- request eval
["GET /lenient", "GET /lenient", "GET /hs", "GET /lenient"]
--- more_headers eval
["Authorization: Bearer $::T{exp_300}", "Authorization: Bearer $::T{exp_300}",
 "Authorization: Bearer $::T{exp_300}", "Authorization: Bearer $::T{exp_300}"]
--- error_code eval
[200, 200, 401, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: hit\nX-Jwt-Error: expired\n!X-Backend",
 "X-Jwt-Cache: hit"]



=== TEST 6: a token expired beyond any leeway is not kept
--- request eval
["GET /lenient", "GET /lenient"]
--- more_headers eval
["Authorization: Bearer $::T{expired}", "Authorization: Bearer $::T{expired}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Cache: miss\nX-Jwt-Error: expired", "X-Jwt-Cache: miss\nX-Jwt-Error: expired"]



=== TEST 7: a customer's cached token on an admin location: 403, and an admin's cached token passes there and elsewhere
--- request eval
["GET /hs", "GET /admin", "GET /admin", "GET /hs", "GET /admin"]
--- error_code eval
[200, 403, 200, 200, 403]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit\nX-Jwt-Error: role\n!X-Backend\n!WWW-Authenticate",
 "X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: hit\nX-Jwt-Error: role\n!X-Backend"]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 qq({"status":"fail","code":"FORBIDDEN","message":"No tienes permiso para realizar esta acción","requestId":"req-role"}),
 "sub=42 role=admin email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=42 role=admin email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 qq({"status":"fail","code":"FORBIDDEN","message":"No tienes permiso para realizar esta acción","requestId":"req-role"})]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}\r\nX-Request-ID: req-role",
 "Authorization: Bearer $::T{admin}", "Authorization: Bearer $::T{admin}",
 "Authorization: Bearer $::T{good}\r\nX-Request-ID: req-role"]



=== TEST 8: another location's audience or issuer refuses the cached token; a nested location without them accepts it
--- request eval
["GET /hs", "GET /other-aud", "GET /other-iss", "GET /any-iss", "GET /any-iss/none", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}",
 "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}"]
--- error_code eval
[200, 401, 401, 401, 401, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit\nX-Jwt-Error: audience", "X-Jwt-Cache: hit\nX-Jwt-Error: issuer",
 "X-Jwt-Cache: hit\nX-Jwt-Error: issuer", "X-Jwt-Cache: hit\nX-Jwt-Error: issuer", "X-Jwt-Cache: hit"]



=== TEST 9: an audience array, cached: its strings are checked on each use
--- request eval
["GET /hs", "GET /hs", "GET /other-aud"]
--- more_headers eval
["Authorization: Bearer $::T{aud_array}", "Authorization: Bearer $::T{aud_array}", "Authorization: Bearer $::T{aud_array}"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: hit\nX-Jwt-Error: audience"]



=== TEST 10: a token cached for one algorithm is not found under another: HS256 where HS512 is pinned is refused
--- request eval
["GET /hs", "GET /hs512", "GET /hs512", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}",
 "Authorization: Bearer $::T{good}"]
--- error_code eval
[200, 401, 401, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: miss\nX-Jwt-Error: algorithm\n!X-Backend",
 "X-Jwt-Cache: miss\nX-Jwt-Error: algorithm", "X-Jwt-Cache: hit"]



=== TEST 11: a token cached for one key is not found under another: the other key's location checks it, and refuses it
--- request eval
["GET /hs", "GET /other-key", "GET /other-key", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{other_key}",
 "Authorization: Bearer $::T{other_key}"]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend",
 "X-Jwt-Cache: miss", "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend"]



=== TEST 12: the payload of a cached token under a bad signature, or with a respelled one, is refused every time
--- request eval
["GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{bad_sig}",
 "Authorization: Bearer $::T{bad_sig}", "Authorization: Bearer $::T{respelled}", "Authorization: Bearer $::T{good}"]
--- error_code eval
[200, 200, 401, 401, 401, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit",
 "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend", "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend",
 "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend", "X-Jwt-Cache: hit"]



=== TEST 13: claims changed under a cached token's signature (role admin): refused, on the admin location too
--- request eval
["GET /admin", "GET /hs", "GET /admin", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{admin}", "Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{forged}",
 "Authorization: Bearer $::T{forged}"]
--- error_code eval
[200, 200, 401, 401]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: miss", "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend",
 "X-Jwt-Cache: miss\nX-Jwt-Error: signature\n!X-Backend"]



=== TEST 14: a cache of two tokens, three tokens: the least recently used is evicted, every answer is right
--- http_config
flores_jwt_cache size=2;
--- request eval
["GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{one}", "Authorization: Bearer $::T{two}", "Authorization: Bearer $::T{one}",
 "Authorization: Bearer $::T{three}", "Authorization: Bearer $::T{one}", "Authorization: Bearer $::T{two}",
 "Authorization: Bearer $::T{three}", "Authorization: Bearer $::T{two}"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: miss", "X-Jwt-Cache: hit",
 "X-Jwt-Cache: miss", "X-Jwt-Cache: miss", "X-Jwt-Cache: hit"]
--- response_body eval
["sub=1 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=2 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=1 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=3 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=1 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=2 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=3 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=2 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n"]



=== TEST 15: flores_jwt_cache off: every token is checked in full
--- http_config
flores_jwt_cache off;
--- request eval
["GET /hs", "GET /hs", "GET /admin"]
--- error_code eval
[200, 200, 403]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: miss", "X-Jwt-Cache: miss\nX-Jwt-Error: role"]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 qq({"status":"fail","code":"FORBIDDEN","message":"No tienes permiso para realizar esta acción","requestId":"req-off"})]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}",
 "Authorization: Bearer $::T{good}\r\nX-Request-ID: req-off"]



=== TEST 16: optional: a cached token gives its identity, no token is anonymous with no cache status
--- request eval
["GET /optional", "GET /optional", "GET /optional"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}", ""]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: \nX-Jwt-Error: "]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub= role= email= sid= level= tags= vip= note= nested=\n"]



=== TEST 17: the identity from a cache hit survives an internal redirect to an error_page location
--- request eval
["GET /down", "GET /down"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}"]
--- error_code eval
[503, 503]
--- response_body eval
["down sub=42 role=customer cache=miss\n", "down sub=42 role=customer cache=hit\n"]



=== TEST 18: where flores_jwt is off, a cached token gives no identity
--- request eval
["GET /hs", "GET /open"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Jwt-Cache: miss", "!X-Jwt-Cache"]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip= note= nested=\n",
 "sub= role= email= sid= level= tags= vip= note= nested=\n"]



=== TEST 19: flores_jwt_cache size=0 is refused, quoting the value
--- http_config
flores_jwt_cache size=0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: invalid cache size "size=0": 1 to 1048576 tokens}



=== TEST 20: an unknown parameter is refused, quoting it
--- http_config
flores_jwt_cache 1024;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: invalid parameter "1024"}



=== TEST 21: a cache too large is refused
--- http_config
flores_jwt_cache size=1048577;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: invalid cache size "size=1048577"}



=== TEST 22: one cache per worker: flores_jwt_cache is not allowed in a server or location
--- config
location /t { flores_jwt_cache size=10; }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_cache" directive is not allowed here}



=== TEST 23: flores_jwt_cache twice is a duplicate
--- http_config
flores_jwt_cache size=10;
flores_jwt_cache off;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_cache" directive is duplicate}



=== TEST 24: a cached token with one more character is another token: not shaped like one (no cache status), or checked in full
--- request eval
["GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{good}.", "Authorization: Bearer x$::T{good}"]
--- error_code eval
[200, 401, 401]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: \nX-Jwt-Error: malformed", "X-Jwt-Cache: miss\nX-Jwt-Error: malformed"]
