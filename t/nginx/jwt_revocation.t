# jwt_revocation.t: flores_jwt_revocation_zone, flores_jwt_revocation and
# flores_jwt_revocation_api. A cutoff POSTed for a subject refuses that
# subject's older tokens of the primary issuer (401 "token revoked") on
# both workers, on the cached-token path too, and nothing else: newer
# tokens, other subjects, a trusted issuer's tokens and locations without
# the zone are untouched. A later cutoff wins, an earlier one never lowers
# it; a full zone evicts and raises its floor (fails closed); a reload keeps
# the entries; a bad body is a 400 in the JSend envelope.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
workers(2);
no_shuffle();

# Connections go to either worker by the hash of their ports.
$Test::Nginx::Util::ReusePort = 1;

our (%T, $Now);

$Now = time;
my $secret = 'r' x 40;

key_dir();
write_secret('hs.key', $secret);
my ($p1, $p1_pub) = gen_ec('p1', 'P-256');
write_jwks('partner.json', jwk($p1_pub, kid => 'p1'));

my %claims = (
    role => 'customer',
    iss  => 'flores-victoria',
    iat  => $Now - 100,
    exp  => $Now + 600,
);

sub tok { my ($sub, %c) = @_; jwt(key => $secret, claims => { %claims, sub => $sub, %c }) }

%T = (
    (map { ("old$_" => tok("$_")) } 1 .. 12),
    (map { ("new$_" => tok("$_", iat => $Now - 10)) } 1 .. 12),
    at_cutoff => tok('5', iat => $Now - 50),
    no_iat    => do { my %c = (%claims, sub => '6'); delete $c{iat}; jwt(key => $secret, claims => \%c) },
    num_sub   => jwt(key => $secret, claims => { %claims, sub => 7 }),
    partner   => jwt(alg => 'ES256', key => $p1, kid => 'p1',
                     claims => { %claims, sub => '8', iss => 'partner' }),
    floor_old => tok('nobody', iat => $Now - 900),
    floor_new => tok('nobody', iat => $Now),
);

my $http_config = <<'_EOC_';
    flores_jwt_revocation_zone zone=revoked:1m ttl=20m;
    flores_jwt_revocation_zone zone=tiny:32k;
_EOC_

my $config = <<'_EOC_';
    flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
    flores_jwt_issuer flores-victoria;

    add_header X-Jwt-Error $flores_jwt_error always;
    add_header X-Jwt-Cache $flores_jwt_cache always;
    add_header X-Worker $pid always;

    location /api {
        flores_jwt on;
        flores_jwt_revocation revoked;
        flores_jwt_trust issuer=partner jwks=$TEST_NGINX_KEYS/partner.json
                         algorithm=ES256;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /tiny {
        flores_jwt on;
        flores_jwt_revocation tiny;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location /plain {
        flores_jwt on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /revocations {
        flores_jwt_revocation_api revoked;
    }

    location = /tiny-revocations {
        flores_jwt_revocation_api tiny;
    }

    location = /backend {
        return 200 "ok\n";
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

# Requests one after the other on one keep-alive connection (one worker):
# each [method, path, token, body]; returns "status cache error" for each.
sub session {
    my @reqs = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!\n";
    my @out;

    for my $q (@reqs) {
        my ($method, $path, $token, $body) = @$q;
        $body //= '';
        my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
        $req .= "Authorization: Bearer $token\r\n" if $token;
        $req .= "Content-Length: " . length($body) . "\r\n" if $method eq 'POST';
        syswrite $s, "$req\r\n$body";

        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($s, $buf, 4096, length $buf) or die "read: $!";
        }
        my ($len) = $buf =~ /^Content-Length: (\d+)/mi;
        my $want = index($buf, "\r\n\r\n") + 4 + ($len // 0);
        while (length $buf < $want) {
            sysread($s, $buf, 4096, length $buf) or die "read: $!";
        }
        my ($status) = $buf =~ m{^HTTP/1\.\d (\d+)};
        my ($cache) = $buf =~ /^X-Jwt-Cache: ([^\r\n]*)/mi;
        my ($error) = $buf =~ /^X-Jwt-Error: ([^\r\n]*)/mi;
        push @out, join ' ', $status, $cache || '-', $error || '-';
    }

    return @out;
}

# One request on its own connection: [status, worker, error, body].
sub get {
    my ($method, $path, $token, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!\n";
    $body //= '';
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "Authorization: Bearer $token\r\n" if $token;
    $req .= "Content-Length: " . length($body) . "\r\n" if $method eq 'POST';
    print {$s} "$req\r\n$body";
    local $/;
    my $answer = <$s> // '';
    my ($status) = $answer =~ m{^HTTP/1\.\d (\d+)};
    my ($worker) = $answer =~ /^X-Worker: (\d+)/mi;
    my ($error) = $answer =~ /^X-Jwt-Error: ([^\r\n]*)/mi;
    my ($content) = $answer =~ /\r\n\r\n(.*)\z/s;
    return [$status // 0, $worker // 0, $error // '-', $content // ''];
}

sub hup {
    my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
    chomp $pid;
    kill 'HUP', $pid or die "HUP $pid: $!";
    sleep 1;
}

run_tests();

__DATA__

=== TEST 1: an empty zone: tokens pass, the summary says so
--- request eval
["GET /api", "GET /revocations"]
--- more_headers eval
["Authorization: Bearer $::T{old1}", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
["ok", '^\{"status":"success","data":\{"zone":"revoked","entries":0,"floor":0,"evicted":0,"ttl":1200\}\}$']



=== TEST 2: a cutoff for sub 2: its older token is refused with "token revoked", its newer one and another subject's pass
--- request eval
["POST /revocations\n2 " . ($::Now - 50) . "\n", "GET /api", "GET /api", "GET /api", "GET /revocations"]
--- more_headers eval
["", "Authorization: Bearer $::T{old2}", "Authorization: Bearer $::T{new2}", "Authorization: Bearer $::T{old3}", ""]
--- error_code eval
[204, 401, 200, 200, 200]
--- response_headers eval
["", "WWW-Authenticate: Bearer realm=\"flores-victoria\", error=\"invalid_token\", error_description=\"token revoked\"\nX-Jwt-Error: revoked", "!X-Jwt-Error", "!X-Jwt-Error", ""]
--- response_body_like eval
['^$', '^\{"status":"fail","code":"UNAUTHORIZED","message":".+","requestId":"[0-9a-f]+"\}$', "ok", "ok", '"entries":1,"floor":0,']



=== TEST 3: a token issued in the cutoff's very second is not revoked (iat < before only)
--- request eval
["POST /revocations\n5 " . ($::Now - 50), "GET /api"]
--- more_headers eval
["", "Authorization: Bearer $::T{at_cutoff}"]
--- error_code eval
[204, 200]



=== TEST 4: the cached-token path: a token cached before its revocation is refused after it, on the same worker
--- init
my @r = ::session(['GET', '/api', $::T{old4}], ['GET', '/api', $::T{old4}],
                  ['POST', '/revocations', undef, "4 " . ($::Now - 50) . "\n"],
                  ['GET', '/api', $::T{old4}], ['GET', '/api', $::T{new4}]);
Test::More::is_deeply(\@r, ['200 miss -', '200 hit -', '204 - -', '401 hit revoked', '200 miss -'],
                      'verified, cached, revoked: refused from the cache');
--- request
GET /revocations
--- response_body_like chomp
"entries":1,



=== TEST 5: a revocation is seen by both workers: every older token refused, on whichever worker
--- init
my $r = ::get('POST', '/revocations', undef, "9 " . ($::Now - 50) . "\n");
Test::More::is($r->[0], 204, 'posted on one worker');
my @a = map { ::get('GET', '/api', $::T{old9}) } 1 .. 24;
Test::More::is(scalar(grep { $_->[0] == 401 && $_->[2] eq 'revoked' } @a), 24, 'refused every time');
my %w = map { $_->[1] => 1 } @a;
Test::More::is(scalar keys %w, 2, 'by both workers');
--- request
GET /revocations
--- response_body_like chomp
"entries":1,



=== TEST 6: a later cutoff replaces an earlier one; an earlier one never lowers it
--- request eval
["POST /revocations\n10 " . ($::Now - 200) . "\n", "GET /api",
 "POST /revocations\n10 " . ($::Now - 50) . "\n", "GET /api",
 "POST /revocations\n10 " . ($::Now - 300) . "\n", "GET /api", "GET /api", "GET /revocations"]
--- more_headers eval
["", "Authorization: Bearer $::T{old10}", "", "Authorization: Bearer $::T{old10}", "",
 "Authorization: Bearer $::T{old10}", "Authorization: Bearer $::T{new10}", ""]
--- error_code eval
[204, 200, 204, 401, 204, 401, 200, 200]
--- response_body_like eval
['^$', 'ok', '^$', 'UNAUTHORIZED', '^$', 'UNAUTHORIZED', 'ok', '"entries":1,']



=== TEST 7: revocation belongs to the primary issuer: a trusted issuer's token with the same sub passes
--- request eval
["POST /revocations\n8 " . ($::Now - 50) . "\n", "GET /api"]
--- more_headers eval
["", "Authorization: Bearer $::T{partner}"]
--- error_code eval
[204, 200]



=== TEST 8: a token without "iat" counts as older than any cutoff; a numeric sub matches its text
--- request eval
["POST /revocations\n6 " . ($::Now - 50) . "\n7 " . ($::Now - 50) . "\n", "GET /api", "GET /api"]
--- more_headers eval
["", "Authorization: Bearer $::T{no_iat}", "Authorization: Bearer $::T{num_sub}"]
--- error_code eval
[204, 401, 401]



=== TEST 9: a location without flores_jwt_revocation does not consult the zone
--- request eval
["POST /revocations\n11 " . ($::Now - 50) . "\n", "GET /plain", "GET /api"]
--- more_headers eval
["", "Authorization: Bearer $::T{old11}", "Authorization: Bearer $::T{old11}"]
--- error_code eval
[204, 200, 401]



=== TEST 10: a cutoff whose entry already ended (before + ttl in the past) is ignored
--- request eval
["POST /revocations\n12 " . ($::Now - 1300) . "\n", "GET /revocations"]
--- error_code eval
[204, 200]
--- response_body_like eval
['^$', '"entries":0,']



=== TEST 11: bad bodies: 400 in the JSend envelope, nothing applied
--- request eval
["POST /revocations\n42\n", "POST /revocations\n42 soon\n", "POST /revocations\n",
 "POST /revocations\n42 100\n 43 100\n", "POST /revocations\n42 -5\n",
 "POST /revocations\n42 100 7\n", "POST /revocations\n4\x{01}2 100\n", "GET /revocations"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
['^\{"status":"fail","code":"VALIDATION_ERROR","message":".+","requestId":"[0-9a-f]+"\}$',
 'VALIDATION_ERROR', 'VALIDATION_ERROR', 'VALIDATION_ERROR', 'VALIDATION_ERROR',
 'VALIDATION_ERROR', 'VALIDATION_ERROR', '"entries":0,']



=== TEST 12: more than 64 KiB: 413; other methods: 405
--- request eval
["POST /revocations\n" . ("x" x 65537), "PUT /revocations\n1 2\n", "DELETE /revocations"]
--- error_code eval
[413, 405, 405]



=== TEST 13: CR LF lines, a last line without LF, empty lines: accepted
--- request eval
["POST /revocations\n1 " . ($::Now - 50) . "\r\n\r\n3 " . ($::Now - 50), "GET /api", "GET /api", "GET /revocations"]
--- more_headers eval
["", "Authorization: Bearer $::T{old1}", "Authorization: Bearer $::T{old3}", ""]
--- error_code eval
[204, 401, 401, 200]
--- response_body_like eval
['^$', 'UNAUTHORIZED', 'UNAUTHORIZED', '"entries":2,']



=== TEST 14: a full zone evicts the entries nearest to their end and raises its floor: older tokens of anyone are refused, newer pass
--- init
my $body = join '', map { "u$_ " . ($::Now - 1000 + int($_ / 4)) . "\n" } 1 .. 2000;
my $r = ::get('POST', '/tiny-revocations', undef, $body);
Test::More::is($r->[0], 204, '2000 entries posted');
$r = ::get('GET', '/tiny-revocations');
my ($entries, $floor, $evicted) = $r->[3] =~ /"entries":(\d+),"floor":(\d+),"evicted":(\d+)/;
Test::More::cmp_ok($evicted, '>', 0, "entries evicted ($evicted)");
Test::More::is($entries + $evicted, 2000, "every entry kept or evicted ($entries kept)");
Test::More::cmp_ok($floor, '>=', $::Now - 1000, 'the floor is an evicted cutoff');
Test::More::cmp_ok($floor, '<', $::Now - 500, 'the floor is not past the latest cutoff');
Test::More::is(::get('GET', '/tiny', $::T{floor_old})->[2], 'revoked', 'a token older than the floor is refused');
Test::More::is(::get('GET', '/tiny', $::T{floor_new})->[0], 200, 'a newer one passes');
Test::More::is(::get('GET', '/tiny', $::T{old1})->[0], 200, 'the other zone is not affected');
Test::More::is(::get('GET', '/api', $::T{floor_old})->[0], 200, 'nor its locations');
--- request
GET /tiny-revocations
--- response_body_like chomp
"evicted":[1-9]



=== TEST 15: a reload keeps the zone's entries
--- init
Test::More::is(::get('POST', '/revocations', undef, "2 " . ($::Now - 50) . "\n")->[0], 204, 'posted');
::hup();
--- request
GET /api
--- more_headers eval
"Authorization: Bearer $::T{old2}"
--- error_code: 401
--- response_headers
X-Jwt-Error: revoked



=== TEST 16: the gateway's metrics show each zone's entries, floor and evictions, and count the refusals as "revoked"
--- http_config
    flores_metrics_zone zone=metrics:1m;
    flores_jwt_revocation_zone zone=revoked:1m ttl=20m;
    flores_jwt_revocation_zone zone=tiny:32k;
--- config
    flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;

    location /api {
        flores_jwt on;
        flores_jwt_revocation revoked;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "ok\n";
    }

    location = /revocations {
        flores_jwt_revocation_api revoked;
    }

    location = /metrics {
        flores_metrics;
    }
--- request eval
["POST /revocations\n1 " . ($::Now - 50) . "\n2 " . ($::Now - 50) . "\n", "GET /api", "GET /metrics"]
--- more_headers eval
["", "Authorization: Bearer $::T{old1}", ""]
--- error_code eval
[204, 401, 200]
--- response_body_like eval
['^$', 'UNAUTHORIZED', qr/flores_gateway_jwt_rejections_total\{reason="revoked"\} 1\n.*^# TYPE flores_gateway_jwt_revocations gauge\nflores_gateway_jwt_revocations\{zone="revoked"\} 2\nflores_gateway_jwt_revocations\{zone="tiny"\} 0\n.*flores_gateway_jwt_revocation_floor_seconds\{zone="revoked"\} 0\n.*flores_gateway_jwt_revocations_evicted_total\{zone="tiny"\} 0\n/ms]



=== TEST 17: flores_jwt_revocation off lifts an inherited zone
--- config
    flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
    flores_jwt_revocation revoked;

    location /api {
        flores_jwt on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;

        location /api/off {
            flores_jwt_revocation off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
        }
    }

    location = /revocations {
        flores_jwt_revocation_api revoked;
    }

    location = /backend {
        return 200 "ok\n";
    }
--- request eval
["POST /revocations\n3 " . ($::Now - 50) . "\n", "GET /api", "GET /api/off"]
--- more_headers eval
["", "Authorization: Bearer $::T{old3}", "Authorization: Bearer $::T{old3}"]
--- error_code eval
[204, 401, 200]
