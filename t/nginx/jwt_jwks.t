# jwt_jwks.t: flores_jwt_jwks_file and flores_jwt_trust. A token names its
# key by "kid" among the keys of a JWKS (EC P-256 or RSA); an unknown "kid",
# or none where the set has several keys, is refused; the algorithm stays
# pinned whatever the key set holds; a reload reads a changed set (a key
# removed is refused from then on, a key added is accepted), and a broken
# set leaves the running configuration in place. A second issuer trusted
# with its own set is held to its own audience and algorithm, and the
# worker's token cache never lends one issuer's verification to another.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
no_shuffle();

our %T;

my $now = time;
my $secret = 's' x 40;

key_dir();
write_secret('hs.key', $secret);
my ($k1, $k1_pub) = gen_ec('k1', 'P-256');
my ($k2, $k2_pub) = gen_ec('k2', 'P-256');
my ($k3, $k3_pub) = gen_ec('k3', 'P-256');
my ($p1, $p1_pub) = gen_ec('p1', 'P-256');
my ($r1, $r1_pub) = gen_rsa('r1');

write_jwks('two.json', jwk($k1_pub, kid => 'k1', use => 'sig', alg => 'ES256'),
                       jwk($k2_pub, kid => 'k2'));
write_jwks('one.json', jwk($k2_pub, kid => 'k2'));
write_jwks('nokid.json', jwk($k1_pub));
write_jwks('rsa.json', jwk($r1_pub, kid => 'r1', alg => 'RS256'));
write_jwks('partner.json', jwk($p1_pub, kid => 'p1'));
write_jwks('rot.json', jwk($k1_pub, kid => 'k1'), jwk($k2_pub, kid => 'k2'));
write_jwks('broken.json', jwk($k1_pub, kid => 'k1'));
our ($K1_pub, $K2_pub, $K3_pub) = ($k1_pub, $k2_pub, $k3_pub);

my %claims = (
    sub  => '42',
    role => 'customer',
    iss  => 'flores-victoria',
    aud  => 'flores-victoria-api',
    iat  => $now,
    exp  => $now + 600,
);

my %partner = (%claims, sub => 'p-7', iss => 'partner', aud => 'partner-api');

sub es { my ($key, $kid, %c) = @_; jwt(alg => 'ES256', key => $key, kid => $kid, claims => { %claims, %c }) }

%T = (
    k1          => es($k1, 'k1'),
    k2          => es($k2, 'k2'),
    k3          => es($k3, 'k3'),
    k9          => es($k1, 'k9'),
    nokid       => es($k1, undef),
    empty_kid   => es($k1, ''),
    k2_by_k1    => es($k1, 'k2'),
    kid_number  => jwt(alg => 'ES256', key => $k1, header => { alg => 'ES256', kid => 7 }, claims => \%claims),
    hs_kid      => jwt(key => $secret, kid => 'k1', claims => \%claims),
    r1          => jwt(alg => 'RS256', key => $r1, kid => 'r1', claims => \%claims),
    hs          => jwt(key => $secret, claims => \%claims),
    partner     => es($p1, 'p1', %partner),
    partner_aud => es($p1, 'p1', %partner, aud => 'flores-victoria-api'),
    partner_hs  => jwt(key => $secret, claims => { %partner }),
    partner_k1  => es($k1, 'p1', %partner),
    stranger    => es($p1, 'p1', %partner, iss => 'stranger'),
    p_as_own    => es($p1, 'p1'),
    p_admin     => es($p1, 'p1', %partner, role => 'admin'),
);

my $config = <<'_EOC_';
    add_header X-Jwt-Error $flores_jwt_error always;
    add_header X-Jwt-Cache $flores_jwt_cache always;
    proxy_set_header X-Jwt-Sub $flores_jwt_sub;
    proxy_set_header X-Jwt-Iss $flores_jwt_claim_iss;

    location /two {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/two.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /one {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/one.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /nokid {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/nokid.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /rs {
        flores_jwt on;
        flores_jwt_algorithm RS256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/rsa.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /rot {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/rot.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /broken {
        flores_jwt on;
        flores_jwt_algorithm ES256;
        flores_jwt_jwks_file $TEST_NGINX_KEYS/broken.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /hs {
        flores_jwt on;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
        flores_jwt_issuer flores-victoria;
        flores_jwt_audience flores-victoria-api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;

        location /hs/partner {
            flores_jwt_trust issuer=partner jwks=$TEST_NGINX_KEYS/partner.json
                             audience=partner-api algorithm=ES256;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;

            location /hs/partner/admin {
                flores_jwt_require_role admin;
                proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
            }
        }
    }

    location = /backend {
        add_header X-Backend reached;
        return 200 "sub=$http_x_jwt_sub iss=$http_x_jwt_iss\n";
    }
_EOC_

default_blocks(config => $config);

# One request on its own connection, from --- init: the status and the
# X-Jwt-Error header.
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
    my ($error) = $answer =~ /^X-Jwt-Error: ([^\r\n]*)/mi;
    return join ' ', $status // 0, $error // '-';
}

# A reload; returns once $path answers $token with $want (the new workers
# took over: slower under the sanitizers), or after 20 seconds.
sub hup {
    my ($path, $token, $want) = @_;
    my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
    chomp $pid;
    kill 'HUP', $pid or die "HUP $pid: $!";
    for (1 .. (defined $path ? 80 : 4)) {
        select undef, undef, undef, 0.25;
        last if defined $path && get($path, $token) eq $want;
    }
    # the old workers finish
    sleep 1;
}

run_tests();

__DATA__

=== TEST 1: a token signed by the first key of the set, named by its kid
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{k1}"
--- error_code: 200
--- response_body
sub=42 iss=flores-victoria



=== TEST 2: a token signed by the second key, named by its kid
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{k2}"
--- error_code: 200
--- response_body
sub=42 iss=flores-victoria



=== TEST 3: a kid the set does not hold: 401 key, no backend
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{k9}"
--- error_code: 401
--- response_headers
X-Jwt-Error: key
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"
!X-Backend



=== TEST 4: a token signed by a key of the set but naming the other one: 401 signature
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{k2_by_k1}"
--- error_code: 401
--- response_headers
X-Jwt-Error: signature



=== TEST 5: no kid where the set has two keys: 401 key (no key is tried in turn)
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{nokid}"
--- error_code: 401
--- response_headers
X-Jwt-Error: key



=== TEST 6: no kid where the set has exactly one key: accepted
--- request
GET /nokid
--- more_headers eval
"Authorization: Bearer $::T{nokid}"
--- error_code: 200



=== TEST 7: an empty kid names no key, not even the one key without kid
--- request
GET /nokid
--- more_headers eval
"Authorization: Bearer $::T{empty_kid}"
--- error_code: 401
--- response_headers
X-Jwt-Error: key



=== TEST 8: a key removed from the set (one.json holds k2 only): k1's token is refused, k2's accepted
--- request eval
["GET /one", "GET /one"]
--- more_headers eval
["Authorization: Bearer $::T{k1}", "Authorization: Bearer $::T{k2}"]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Jwt-Error: key", "!X-Jwt-Error"]



=== TEST 9: a kid that is not a string is malformed
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{kid_number}"
--- error_code: 401
--- response_headers
X-Jwt-Error: malformed



=== TEST 10: the algorithm stays pinned: an HS256 token naming an EC key's kid is refused
--- request
GET /two
--- more_headers eval
"Authorization: Bearer $::T{hs_kid}"
--- error_code: 401
--- response_headers
X-Jwt-Error: algorithm



=== TEST 11: an RSA key of a JWKS (n, e) verifies RS256
--- request
GET /rs
--- more_headers eval
"Authorization: Bearer $::T{r1}"
--- error_code: 200



=== TEST 12: a reload reads the changed set: the removed key is refused, the added one accepted, the kept one still works
--- init
Test::More::is(::get('/rot', $::T{k1}), '200 -', 'k1 accepted before the rotation');
Test::More::is(::get('/rot', $::T{k3}), '401 key', 'k3 not yet published');
Flores::NginxTest::write_jwks('rot.json', Flores::NginxTest::jwk($::K2_pub, kid => 'k2'),
                              Flores::NginxTest::jwk($::K3_pub, kid => 'k3'));
::hup('/rot', $::T{k3}, '200 -');
Test::More::is(::get('/rot', $::T{k3}), '200 -', 'k3 accepted once published and reloaded');
Test::More::is(::get('/rot', $::T{k1}), '401 key', 'k1 refused once removed and reloaded');
# as it was, for the blocks that start nginx afresh
Flores::NginxTest::write_jwks('rot.json', Flores::NginxTest::jwk($::K1_pub, kid => 'k1'),
                              Flores::NginxTest::jwk($::K2_pub, kid => 'k2'));
--- request
GET /rot
--- more_headers eval
"Authorization: Bearer $::T{k2}"
--- error_code: 200



=== TEST 13: a reload with a broken set keeps the running configuration and its keys
--- init
Test::More::is(::get('/broken', $::T{k1}), '200 -', 'k1 accepted');
Flores::NginxTest::write_file('broken.json', '{"keys":[{"kty":"EC","crv":"P-256","kid":"k1"}]}');
::hup();
Flores::NginxTest::write_jwks('broken.json', Flores::NginxTest::jwk($::K1_pub, kid => 'k1'));
--- request
GET /broken
--- more_headers eval
"Authorization: Bearer $::T{k1}"
--- error_code: 200
--- error_log
EC key 1 needs "x" and "y" of 32 bytes each
--- no_error_log
[alert]



=== TEST 14: the primary issuer's own token, where a second issuer is trusted
--- request
GET /hs/partner
--- more_headers eval
"Authorization: Bearer $::T{hs}"
--- error_code: 200
--- response_body
sub=42 iss=flores-victoria



=== TEST 15: the trusted issuer's token, verified with its set, under its audience
--- request
GET /hs/partner
--- more_headers eval
"Authorization: Bearer $::T{partner}"
--- error_code: 200
--- response_body
sub=p-7 iss=partner



=== TEST 16: the trusted issuer's token with the primary audience: its own audience applies
--- request
GET /hs/partner
--- more_headers eval
"Authorization: Bearer $::T{partner_aud}"
--- error_code: 401
--- response_headers
X-Jwt-Error: audience



=== TEST 17: "iss": "partner" signed with the primary HS256 secret: the trusted issuer's algorithm is pinned
--- request
GET /hs/partner
--- more_headers eval
"Authorization: Bearer $::T{partner_hs}"
--- error_code: 401
--- response_headers
X-Jwt-Error: algorithm



=== TEST 18: "iss": "partner" signed by a key outside the partner's set
--- request
GET /hs/partner
--- more_headers eval
"Authorization: Bearer $::T{partner_k1}"
--- error_code: 401
--- response_headers
X-Jwt-Error: signature



=== TEST 19: another issuer signed with the partner's key goes to the primary keys and is refused
--- request eval
["GET /hs/partner", "GET /hs/partner"]
--- more_headers eval
["Authorization: Bearer $::T{stranger}", "Authorization: Bearer $::T{p_as_own}"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Jwt-Error: algorithm", "X-Jwt-Error: algorithm"]



=== TEST 20: where the partner is not trusted, its token is refused
--- request
GET /hs
--- more_headers eval
"Authorization: Bearer $::T{partner}"
--- error_code: 401
--- response_headers
X-Jwt-Error: algorithm



=== TEST 21: the cache: a partner token verified under the trust is a hit there, and still refused where the partner is not trusted
--- request eval
["GET /hs/partner", "GET /hs/partner", "GET /hs"]
--- more_headers eval
["Authorization: Bearer $::T{partner}", "Authorization: Bearer $::T{partner}", "Authorization: Bearer $::T{partner}"]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Jwt-Cache: miss", "X-Jwt-Cache: hit", "X-Jwt-Cache: miss"]



=== TEST 22: the trusted issuer's tokens meet the same role rules
--- request eval
["GET /hs/partner/admin", "GET /hs/partner/admin"]
--- more_headers eval
["Authorization: Bearer $::T{partner}", "Authorization: Bearer $::T{p_admin}"]
--- error_code eval
[403, 200]
