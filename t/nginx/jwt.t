# jwt.t: flores_jwt validates Bearer tokens in the access phase. Every refusal
# is a 401 (403 for a role) in the JSend envelope, with WWW-Authenticate, and
# never reaches the protected backend; an accepted token's claims reach the
# backend through $flores_jwt_*; each classic trap of JWT libraries (no time
# or iss/aud checks, algorithm confusion, alg none, critical extensions) is
# closed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

our %T;

my $now = time;
my $secret = 'k' x 24 . '-0123456789abcdef';       # 41 bytes
my $other = 'z' x 40;

key_dir();
write_secret('hs.key', $secret);
my ($rsa, $rsa_pub) = gen_rsa('rsa');
my ($ec, $ec_pub) = gen_ec('ec', 'P-256');
my ($ec384, $ec384_pub) = gen_ec('ec384', 'P-384');

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
sub without { my %c = %claims; delete @c{@_}; jwt(key => $secret, claims => \%c) }

my $good = hs();
my ($h, $p, $s) = split /\./, $good;
my $flipped = $s;
substr($flipped, 5, 1) = substr($flipped, 5, 1) eq 'A' ? 'B' : 'A';

open my $fh, '<:raw', $rsa_pub or die;
my $rsa_pub_text = do { local $/; <$fh> };
close $fh;

%T = (
    good          => $good,
    rs256         => jwt(alg => 'RS256', key => $rsa, claims => \%claims),
    rs256_forged  => jwt(alg => 'RS256', claims => \%claims, sig => 'x' x 256),
    es256         => jwt(alg => 'ES256', key => $ec, claims => \%claims),
    es384         => jwt(alg => 'ES384', key => $ec384, claims => \%claims),
    bad_sig       => "$h.$p.$flipped",
    other_key     => jwt(key => $other, claims => \%claims),
    forged        => "$h." . (split /\./, hs(role => 'admin'))[1] . ".$s",
    none          => jwt(alg => 'none', claims => \%claims),
    none_sig      => jwt(alg => 'none', claims => \%claims) . $s,
    hs512         => jwt(alg => 'HS512', key => $secret, claims => \%claims),
    confusion     => jwt(alg => 'HS256', key => $rsa_pub_text, claims => \%claims),
    not_json      => b64url('not json') . ".$p.$s",
    typ_jwe       => jwt(key => $secret, header => { alg => 'HS256', typ => 'JWE' }, claims => \%claims),
    expired       => hs(iat => $now - 7200, exp => $now - 3600),
    exp_300_ago   => hs(exp => $now - 300),
    no_exp        => without('exp'),
    exp_string    => hs(exp => "" . ($now + 600)),
    exp_real      => jwt(key => $secret, claims => '{"sub":"42","exp":' . ($now + 600) . '.5,"iss":"flores-victoria","aud":"flores-victoria-api"}'),
    nbf_future    => hs(nbf => $now + 3600),
    nbf_in_300    => hs(nbf => $now + 300),
    wrong_iss     => hs(iss => 'someone-else'),
    no_iss        => without('iss'),
    wrong_aud     => hs(aud => 'another-api'),
    aud_array     => hs(aud => ['shop', 'flores-victoria-api']),
    aud_array_no  => hs(aud => ['shop', 'flores-victoria-apix']),
    aud_number    => hs(aud => 7),
    admin         => hs(role => 'admin'),
    florist       => hs(role => 'florist'),
    no_role       => without('role'),
    numbers       => hs(sub => 42, level => 3, tags => ['a', 'b'], vip => JSON::PP::true),
    newline       => hs(email => "ana\@example.cl\r\nX-Injected: 1"),
    long          => hs(pad => 'p' x 9000),
    crit          => jwt(key => $secret, header => { alg => 'HS256', typ => 'JWT', crit => ['exp'] }, claims => \%claims),
    typ_lower     => jwt(key => $secret, header => { alg => 'HS256', typ => 'jwt' }, claims => \%claims),
    no_typ        => jwt(key => $secret, header => { alg => 'HS256' }, claims => \%claims),
    bad_utf8      => jwt(key => $secret, claims => qq({"sub":"\xff","exp":) . ($now + 600) . q(,"iss":"flores-victoria","aud":"flores-victoria-api"})),
    array         => jwt(key => $secret, claims => '[1]'),
    trailing      => jwt(key => $secret, claims => '{"sub":"42","exp":' . ($now + 600) . '} x'),
    es256_short   => do { my $t = jwt(alg => 'ES256', key => $ec, claims => \%claims); $t =~ s/.{3}$//; $t },
);

my $config = <<'_EOC_';
    flores_jwt_key_file  $TEST_NGINX_KEYS/hs.key;
    flores_jwt_issuer    flores-victoria;
    flores_jwt_audience  flores-victoria-api;

    add_header X-Jwt-Error $flores_jwt_error always;

    proxy_set_header X-Jwt-Sub    $flores_jwt_sub;
    proxy_set_header X-Jwt-Role   $flores_jwt_role;
    proxy_set_header X-Jwt-Email  $flores_jwt_email;
    proxy_set_header X-Jwt-Sid    $flores_jwt_claim_sid;
    proxy_set_header X-Jwt-Level  $flores_jwt_claim_level;
    proxy_set_header X-Jwt-Tags   $flores_jwt_claim_tags;
    proxy_set_header X-Jwt-Vip    $flores_jwt_claim_vip;

    location /hs {
        flores_jwt on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /rs {
        flores_jwt on;
        flores_jwt_algorithm RS256;
        flores_jwt_key_file $TEST_NGINX_KEYS/rsa.pub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /es {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_key_file $TEST_NGINX_KEYS/ec.pub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /es384 {
        flores_jwt on;
        flores_jwt_algorithm ES384;
        flores_jwt_key_file $TEST_NGINX_KEYS/ec384.pub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /optional {
        flores_jwt optional;
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

    location /staff {
        flores_jwt on;
        flores_jwt_require_role admin florist;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /down {
        flores_jwt on;
        error_page 502 = @down;
        proxy_pass http://127.0.0.1:1;
    }

    location @down {
        return 503 "down sub=$flores_jwt_sub role=$flores_jwt_role error=$flores_jwt_error\n";
    }

    location /open {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        add_header X-Backend reached;
        return 200 "sub=$http_x_jwt_sub role=$http_x_jwt_role email=$http_x_jwt_email sid=$http_x_jwt_sid level=$http_x_jwt_level tags=$http_x_jwt_tags vip=$http_x_jwt_vip\n";
    }
_EOC_

default_blocks(config => $config);

# FRESH(claim:offset,...) in more_headers: an HS256 token made just before
# its block runs, with each claim set to the current time plus the offset
# (the leeway tests have a margin of seconds; files load long before).
add_block_preprocessor(sub {
    my $block = shift;
    my $h = $block->more_headers;
    return unless defined $h;

    my $fresh = sub {
        my %c = map { my ($k, $v) = split /:/; ($k => time + $v) } split /,/, shift;
        return hs(%c);
    };

    if (ref $h eq 'ARRAY') {
        s/FRESH\(([^)]*)\)/$fresh->($1)/ge for @$h;
    } else {
        $h =~ s/FRESH\(([^)]*)\)/$fresh->($1)/ge;
    }

    $block->set_value('more_headers', $h);
});

run_tests();

__DATA__

=== TEST 1: no Authorization header: 401 missing, the envelope, the challenge, no backend
--- request
GET /hs
--- more_headers
X-Request-ID: req-missing
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"
X-Jwt-Error: missing
!X-Backend
--- response_body chomp
{"status":"fail","code":"UNAUTHORIZED","message":"Se requiere iniciar sesión","requestId":"req-missing"}
--- error_log
flores jwt: token refused: missing



=== TEST 2: an HS256 token: its claims reach the backend through the variables
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{good}"
--- error_code: 200
--- response_headers
X-Backend: reached
!X-Jwt-Error
!WWW-Authenticate
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level= tags= vip=



=== TEST 3: the scheme is case-insensitive and may be followed by several spaces
--- request
GET /hs
--- more_headers eval
"Authorization: bEARER    $::T{good}"
--- error_code: 200
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level= tags= vip=



=== TEST 4: another scheme is no Bearer token: 401 missing
--- request
GET /hs
--- more_headers
Authorization: Basic YWxpY2lhOnNlY3JldA==
--- error_code: 401
--- response_headers
X-Jwt-Error: missing
!X-Backend



=== TEST 5: a token without the scheme is not taken: 401 missing
--- request
GET /hs
--- more_headers eval
"Authorization: $::T{good}"
--- error_code: 401
--- response_headers
X-Jwt-Error: missing
!X-Backend



=== TEST 6: "Bearer" and nothing else: 401 malformed
--- request
GET /hs
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed
!X-Backend



=== TEST 7: one segment: 401 malformed
--- request
GET /hs
--- more_headers
Authorization: Bearer not-a-jwt
X-Request-ID: req-malformed
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed
!X-Backend
--- response_body chomp
{"status":"fail","code":"UNAUTHORIZED","message":"El token de acceso no es válido","requestId":"req-malformed"}



=== TEST 8: two segments, four segments, an empty payload, characters outside base64url: 401 malformed
--- request eval
["GET /hs", "GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer abc.def", "Authorization: Bearer a.b.c.d", "Authorization: Bearer abc..def", "Authorization: Bearer ab+c.d/ef.g=="]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
["X-Jwt-Error: malformed", "X-Jwt-Error: malformed", "X-Jwt-Error: malformed", "X-Jwt-Error: malformed"]



=== TEST 9: base64url garbage and a header that is not JSON: 401 malformed
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer a.b.c", "Authorization: Bearer $::T{not_json}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: malformed", "X-Jwt-Error: malformed"]



=== TEST 10: a token over 8 KiB is refused before it is decoded
--- http_config
large_client_header_buffers 4 32k;
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{long}"
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed
!X-Backend



=== TEST 11: a bad signature: 401 signature
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{bad_sig}"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"
X-Jwt-Error: signature
!X-Backend
--- error_log
flores jwt: token refused: signature



=== TEST 12: signed with another secret, and claims changed after signing: 401 signature
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{other_key}", "Authorization: Bearer $::T{forged}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: signature", "X-Jwt-Error: signature"]



=== TEST 13: alg none, with or without a signature: 401 algorithm
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{none}", "Authorization: Bearer $::T{none_sig}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: algorithm\n!X-Backend", "X-Jwt-Error: algorithm\n!X-Backend"]



=== TEST 14: HS512 with the right secret is not the pinned HS256: 401 algorithm
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{hs512}"
--- error_code: 401
--- response_headers
X-Jwt-Error: algorithm
!X-Backend



=== TEST 15: HS256 signed with the RSA public key while RS256 is configured: 401 algorithm
(libjwt verifies such a token against the PEM text as an HMAC secret)
--- request
GET /rs
--- more_headers eval
"Authorization: Bearer $::T{confusion}"
--- error_code: 401
--- response_headers
X-Jwt-Error: algorithm
!X-Backend
--- error_log
flores jwt: token refused: algorithm



=== TEST 16: an RS256 token: accepted with its claims
--- request
GET /rs
--- more_headers eval
"Authorization: Bearer $::T{rs256}"
--- error_code: 200
--- response_headers
X-Backend: reached
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level= tags= vip=



=== TEST 17: an HS256 token on the RS256 location, a forged RS256 signature: 401
--- request eval
["GET /rs", "GET /rs"]
--- more_headers eval
["Authorization: Bearer $::T{good}", "Authorization: Bearer $::T{rs256_forged}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: algorithm\n!X-Backend", "X-Jwt-Error: signature\n!X-Backend"]



=== TEST 18: ES256 and ES384 tokens (JWS r||s signatures): accepted
--- request eval
["GET /es", "GET /es384"]
--- more_headers eval
["Authorization: Bearer $::T{es256}", "Authorization: Bearer $::T{es384}"]
--- error_code eval
[200, 200]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip=\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip=\n"]



=== TEST 19: an ES256 token where ES384 is configured, and on the HS256 location: 401 algorithm
--- request eval
["GET /es384", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{es256}", "Authorization: Bearer $::T{es256}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: algorithm\n!X-Backend", "X-Jwt-Error: algorithm\n!X-Backend"]



=== TEST 20: a "typ" other than JWT: 401 malformed
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{typ_jwe}"
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed



=== TEST 21: expired an hour ago: 401 expired, its own message
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{expired}\r\nX-Request-ID: req-expired"
--- error_code: 401
--- response_headers
X-Jwt-Error: expired
!X-Backend
--- response_body chomp
{"status":"fail","code":"UNAUTHORIZED","message":"El token de acceso expiró","requestId":"req-expired"}



=== TEST 22: expired 10 s ago is within the default 30 s leeway, not within a leeway of 0
--- request eval
["GET /hs", "GET /strict"]
--- more_headers eval
["Authorization: Bearer FRESH(exp:-10)", "Authorization: Bearer FRESH(exp:-1)"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Backend: reached", "X-Jwt-Error: expired\n!X-Backend"]



=== TEST 23: expired 5 minutes ago is within a leeway of 10 minutes, not within 30 s
--- request eval
["GET /lenient", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{exp_300_ago}", "Authorization: Bearer $::T{exp_300_ago}"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Backend: reached", "X-Jwt-Error: expired\n!X-Backend"]



=== TEST 24: no exp, exp as a string, exp as a fraction: 401 malformed
--- request eval
["GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{no_exp}", "Authorization: Bearer $::T{exp_string}", "Authorization: Bearer $::T{exp_real}"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Jwt-Error: malformed", "X-Jwt-Error: malformed", "X-Jwt-Error: malformed"]



=== TEST 25: not valid before an hour from now: 401 not_yet_valid
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{nbf_future}"
--- error_code: 401
--- response_headers
X-Jwt-Error: not_yet_valid
!X-Backend
--- response_body_like: "message":"El token de acceso aún no es válido"



=== TEST 26: nbf 10 s ahead is within the default leeway, not within a leeway of 0
--- request eval
["GET /hs", "GET /strict"]
--- more_headers eval
["Authorization: Bearer FRESH(nbf:10)", "Authorization: Bearer $::T{nbf_in_300}"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Backend: reached", "X-Jwt-Error: not_yet_valid"]



=== TEST 27: nbf 5 minutes ahead is within a leeway of 10 minutes, not within 30 s
--- request eval
["GET /lenient", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{nbf_in_300}", "Authorization: Bearer $::T{nbf_in_300}"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Backend: reached", "X-Jwt-Error: not_yet_valid"]



=== TEST 28: another issuer, and no issuer: 401 issuer
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{wrong_iss}", "Authorization: Bearer $::T{no_iss}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: issuer\n!X-Backend", "X-Jwt-Error: issuer\n!X-Backend"]



=== TEST 29: another audience, an array without ours, a number: 401 audience
--- request eval
["GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{wrong_aud}", "Authorization: Bearer $::T{aud_array_no}", "Authorization: Bearer $::T{aud_number}"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Jwt-Error: audience\n!X-Backend", "X-Jwt-Error: audience\n!X-Backend", "X-Jwt-Error: audience\n!X-Backend"]



=== TEST 30: an audience array holding ours: accepted
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{aud_array}"
--- error_code: 200
--- response_headers
X-Backend: reached



=== TEST 31: a customer on an admin location: 403 FORBIDDEN, no challenge, no backend
--- request
GET /admin
--- more_headers eval
"Authorization: Bearer $::T{good}\r\nX-Request-ID: req-role"
--- error_code: 403
--- response_headers
Content-Type: application/json
X-Jwt-Error: role
!WWW-Authenticate
!X-Backend
--- response_body chomp
{"status":"fail","code":"FORBIDDEN","message":"No tienes permiso para realizar esta acción","requestId":"req-role"}
--- error_log
flores jwt: token refused: role



=== TEST 32: no role claim on an admin location: 403
--- request
GET /admin
--- more_headers eval
"Authorization: Bearer $::T{no_role}"
--- error_code: 403
--- response_headers
X-Jwt-Error: role



=== TEST 33: the required roles are a list: admin and florist pass, customer does not
--- request eval
["GET /admin", "GET /staff", "GET /staff"]
--- error_code eval
[200, 200, 403]
--- response_body eval
["sub=42 role=admin email=ana\@example.cl sid=family-7 level= tags= vip=\n",
 "sub=42 role=florist email=ana\@example.cl sid=family-7 level= tags= vip=\n",
 qq({"status":"fail","code":"FORBIDDEN","message":"No tienes permiso para realizar esta acción","requestId":"req-staff"})]
--- more_headers eval
["Authorization: Bearer $::T{admin}", "Authorization: Bearer $::T{florist}", "Authorization: Bearer $::T{good}\r\nX-Request-ID: req-staff"]



=== TEST 34: optional: no token is an anonymous request, with empty identity
--- request
GET /optional
--- error_code: 200
--- response_headers
X-Backend: reached
--- response_body
sub= role= email= sid= level= tags= vip=



=== TEST 35: optional: a valid token gives its identity
--- request
GET /optional
--- more_headers eval
"Authorization: Bearer $::T{good}"
--- error_code: 200
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level= tags= vip=



=== TEST 36: optional: an invalid token present is still 401
--- request eval
["GET /optional", "GET /optional"]
--- more_headers eval
["Authorization: Bearer $::T{expired}", "Authorization: Bearer $::T{bad_sig}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: expired\n!X-Backend", "X-Jwt-Error: signature\n!X-Backend"]



=== TEST 37: without flores_jwt the token is not read: no identity, even from a valid token
--- request
GET /open
--- more_headers eval
"Authorization: Bearer $::T{good}"
--- error_code: 200
--- response_body
sub= role= email= sid= level= tags= vip=



=== TEST 38: identity sent by the client is replaced by the verified one
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{good}\r\nX-Jwt-Sub: 1\r\nX-Jwt-Role: admin"
--- error_code: 200
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level= tags= vip=



=== TEST 39: claims that are not strings come as JSON text ($flores_jwt_claim_<name>)
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{numbers}"
--- error_code: 200
--- response_body
sub=42 role=customer email=ana@example.cl sid=family-7 level=3 tags=["a","b"] vip=true



=== TEST 40: a claim with control characters is not passed on (no header splitting)
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{newline}"
--- error_code: 200
--- response_body
sub=42 role=customer email= sid=family-7 level= tags= vip=
--- error_log
flores jwt: claim "email" has control characters



=== TEST 41: HEAD gets the status and headers of a refusal, without a body
--- request
HEAD /hs
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"
--- response_body



=== TEST 42: a refusal keeps the connection usable (the request body is discarded)
--- pipelined_requests eval
["POST /hs\r\n" . "x" x 3000, "GET /optional"]
--- error_code eval
[401, 200]
--- response_body eval
[qq({"status":"fail","code":"UNAUTHORIZED","message":"Se requiere iniciar sesión","requestId":"req-body"}),
 "sub= role= email= sid= level= tags= vip=\n"]
--- more_headers
X-Request-ID: req-body



=== TEST 43: the identity survives an internal redirect to an error_page location
--- request
GET /down
--- more_headers eval
"Authorization: Bearer $::T{good}"
--- error_code: 503
--- response_body
down sub=42 role=customer error=



=== TEST 44: where flores_jwt is off, the token is neither read nor refused
--- request
GET /open
--- more_headers eval
"Authorization: Bearer $::T{expired}"
--- error_code: 200
--- response_headers
!X-Jwt-Error
--- response_body
sub= role= email= sid= level= tags= vip=



=== TEST 45: a header with "crit": no extension is understood here, so the token is refused (malformed)
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{crit}"
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed
!X-Backend



=== TEST 46: "typ" is case-insensitive, and optional
--- request eval
["GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{typ_lower}", "Authorization: Bearer $::T{no_typ}"]
--- error_code eval
[200, 200]
--- response_body eval
["sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip=\n",
 "sub=42 role=customer email=ana\@example.cl sid=family-7 level= tags= vip=\n"]



=== TEST 47: signed payloads that are not one JSON object of valid UTF-8: 401 malformed
--- request eval
["GET /hs", "GET /hs", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{bad_utf8}", "Authorization: Bearer $::T{array}", "Authorization: Bearer $::T{trailing}"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Jwt-Error: malformed\n!X-Backend", "X-Jwt-Error: malformed\n!X-Backend", "X-Jwt-Error: malformed\n!X-Backend"]



=== TEST 48: an ES256 signature shorter than r || s: 401 signature
--- request
GET /es
--- more_headers eval
"Authorization: Bearer $::T{es256_short}"
--- error_code: 401
--- response_headers
X-Jwt-Error: signature
!X-Backend
