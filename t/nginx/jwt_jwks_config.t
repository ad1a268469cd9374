# jwt_jwks_config.t: mistakes in a JWKS file and in flores_jwt_jwks_file,
# flores_jwt_trust and the revocation directives stop nginx at configuration
# time, each with a message that quotes the file (and the key) or the bad
# token: a key set is read and checked against the pinned algorithm when
# the configuration is loaded, never on the first request.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

my $dir = key_dir();
write_secret('hs.key', 's' x 40);
my (undef, $ec_pub) = gen_ec('ec', 'P-256');
my (undef, $ec384_pub) = gen_ec('ec384', 'P-384');
my (undef, $rsa_pub) = gen_rsa('rsa');
my (undef, $rsa1024_pub) = gen_rsa('rsa1024', 1024);

my $ec = jwk($ec_pub, kid => 'a');
my $x31 = b64url('x' x 31);

write_jwks('good.json', $ec);
write_jwks('ec384.json', jwk($ec384_pub, kid => 'p384'));
write_jwks('rsa.json', jwk($rsa_pub, kid => 'r'));
write_jwks('rsa1024.json', jwk($rsa1024_pub, kid => 'r'));
write_file('notjson.json', '{"keys": [');
write_file('trailing.json', '{"keys":[]} x');
write_file('array.json', '[]');
write_jwks('empty.json');
write_jwks('oct.json', { kty => 'oct', k => 'c2VjcmV0', kid => 'h' });
write_jwks('okp.json', { kty => 'OKP', crv => 'Ed25519', x => b64url('x' x 32) });
write_jwks('nokty.json', { kid => 'a', x => 'AA' });
write_jwks('p521.json', { %$ec, crv => 'P-521' });
write_jwks('shortx.json', { %$ec, x => $x31 });
write_jwks('offcurve.json', { %$ec, x => b64url("\x01" x 32), y => b64url("\x02" x 32) });
write_jwks('private.json', { %$ec, d => b64url('d' x 32) });
write_jwks('dupkid.json', $ec, { %{ jwk($rsa_pub) }, kid => 'a' });
write_jwks('nokids.json', jwk($ec_pub), jwk($ec384_pub));
write_jwks('badkid.json', { %$ec, kid => 7 });
write_jwks('enc.json', { %$ec, use => 'enc' });
write_jwks('alg.json', { %$ec, alg => 'ES384' });
write_jwks('rsa_no_e.json', { kty => 'RSA', n => jwk($rsa_pub)->{n} });

our $Dir = $dir;

default_blocks(request => "GET /t\n");

# $::Dir/<file> under ES256 in location /t
sub es { my $f = shift; "location /t { flores_jwt on; flores_jwt_algorithm ES256; flores_jwt_jwks_file $::Dir/$f; }" }

run_tests();

__DATA__

=== TEST 1: a good set, a trusted issuer and a revocation zone start; a request without a token is refused
--- http_config eval
"flores_jwt_revocation_zone zone=revoked:1m ttl=30m;"
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm ES256; flores_jwt_jwks_file $::Dir/good.json;
               flores_jwt_trust issuer=partner jwks=$::Dir/rsa.json algorithm=RS256 audience=partner-api;
               flores_jwt_revocation revoked; }
 location /r { flores_jwt_revocation_api revoked; }"
--- error_code: 401



=== TEST 2: a JWKS file that does not exist
--- config eval
::es('nope.json')
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: cannot open key file "\Q$::Dir\E/nope\.json"}



=== TEST 3: not JSON
--- config eval
::es('notjson.json')
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: JWKS file "\Q$::Dir\E/notjson\.json" is not JSON}



=== TEST 4: text after the JSON object
--- config eval
::es('trailing.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/trailing\.json" is not JSON}



=== TEST 5: no "keys" array
--- config eval
::es('array.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/array\.json" is not an object with a "keys" array}



=== TEST 6: no key at all
--- config eval
::es('empty.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/empty\.json" has 0 keys, 1 to 32 are supported}



=== TEST 7: a symmetric key ("kty": "oct") is never read from a key set
--- config eval
::es('oct.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/oct\.json": key 1 has the private member "k"}



=== TEST 8: an OKP key is not supported
--- config eval
::es('okp.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/okp\.json": key 1 has "kty" "OKP", only "EC" and "RSA" are supported}



=== TEST 9: no "kty"
--- config eval
::es('nokty.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/nokty\.json": key 1 has no "kty"}



=== TEST 10: a curve other than P-256 and P-384
--- config eval
::es('p521.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/p521\.json": EC key 1 is on curve "P-521", only P-256 and P-384 are supported}



=== TEST 11: "x" of 31 bytes
--- config eval
::es('shortx.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/shortx\.json": EC key 1 needs "x" and "y" of 32 bytes each, in base64url}



=== TEST 12: a point that is not on the curve
--- config eval
::es('offcurve.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/offcurve\.json": EC key 1 is not a point on P-256}



=== TEST 13: a private key in a public set
--- config eval
::es('private.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/private\.json": key 1 has the private member "d": publish public keys only}



=== TEST 14: two keys with the same kid
--- config eval
::es('dupkid.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/dupkid\.json": keys 1 and 2 have the same "kid" "a"}



=== TEST 15: two keys without a kid cannot be told apart
--- config eval
::es('nokids.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/nokids\.json": keys 1 and 2 have the same "kid" "" \(none\)}



=== TEST 16: a kid that is not a string
--- config eval
::es('badkid.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/badkid\.json": key 1 has an invalid "kid"}



=== TEST 17: a key for encryption
--- config eval
::es('enc.json')
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/enc\.json": key 1 has an invalid "alg" or a "use" other than "sig"}



=== TEST 18: an RSA key without "e"
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_jwks_file $::Dir/rsa_no_e.json; }"
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/rsa_no_e\.json": RSA key 1 needs "n" \(at most 2048 bytes\) and "e"}



=== TEST 19: an RSA key of 1024 bits
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_jwks_file $::Dir/rsa1024.json; }"
--- must_die
--- error_log eval
qr{key file "\Q$::Dir\E/rsa1024\.json" holds an RSA key of 1024 bits, at least 2048 are needed}



=== TEST 20: a key whose "alg" is not the pinned algorithm
--- config eval
::es('alg.json')
--- must_die
--- error_log eval
qr{"flores_jwt_jwks_file" "\Q$::Dir\E/alg\.json" in \S+:\d+ has key "a" for "alg" "ES384", but "flores_jwt_algorithm" is ES256}



=== TEST 21: an RSA set under ES256
--- config eval
::es('rsa.json')
--- must_die
--- error_log eval
qr{"flores_jwt_jwks_file" "\Q$::Dir\E/rsa\.json" in \S+:\d+ holds an RSA public key, but "flores_jwt_algorithm" ES256 needs an EC public key}



=== TEST 22: a P-384 set under ES256
--- config eval
::es('ec384.json')
--- must_die
--- error_log eval
qr{"flores_jwt_jwks_file" "\Q$::Dir\E/ec384\.json" in \S+:\d+ holds a key on curve secp384r1, but "flores_jwt_algorithm" ES256 needs prime256v1}



=== TEST 23: a key file and a key set at the same level
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_jwks_file $::Dir/good.json; }"
--- must_die
--- error_log
"flores_jwt_jwks_file" directive is duplicate



=== TEST 24: flores_jwt_trust without jwks=
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_trust issuer=partner audience=x; }"
--- must_die
--- error_log
"flores_jwt_trust" needs "issuer=" and "jwks="



=== TEST 25: flores_jwt_trust with an unknown parameter or algorithm
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_trust issuer=partner jwks=$::Dir/good.json algorithm=PS256; }"
--- must_die
--- error_log
invalid parameter "algorithm=PS256"



=== TEST 26: the same issuer trusted twice
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key;
               flores_jwt_trust issuer=partner jwks=$::Dir/good.json algorithm=ES256;
               flores_jwt_trust issuer=partner jwks=$::Dir/rsa.json algorithm=RS256; }"
--- must_die
--- error_log
issuer "partner" is trusted twice



=== TEST 27: a trusted set that does not fit its algorithm (the location's HS256 when none is given)
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_trust issuer=partner jwks=$::Dir/good.json; }"
--- must_die
--- error_log eval
qr{"flores_jwt_jwks_file" "\Q$::Dir\E/good\.json" in \S+:\d+ holds an EC public key, but "flores_jwt_algorithm" HS256 needs a secret}



=== TEST 28: a trusted issuer's bad set
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_trust issuer=partner jwks=$::Dir/private.json algorithm=ES256; }"
--- must_die
--- error_log eval
qr{JWKS file "\Q$::Dir\E/private\.json": key 1 has the private member "d"}



=== TEST 29: the primary issuer cannot be trusted as a second one (its tokens would escape revocation)
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_issuer flores-victoria;
               flores_jwt_trust issuer=flores-victoria jwks=$::Dir/good.json algorithm=ES256; }"
--- must_die
--- error_log
"flores_jwt_trust" issuer "flores-victoria" is the location's own "flores_jwt_issuer"



=== TEST 30: a revocation zone without zone=
--- http_config
flores_jwt_revocation_zone ttl=10m;
--- config
location /t { return 204; }
--- must_die
--- error_log
"flores_jwt_revocation_zone" must have "zone" parameter



=== TEST 31: a revocation zone too small, a bad ttl, an unknown parameter
--- http_config
flores_jwt_revocation_zone zone=r:4k;
--- config
location /t { return 204; }
--- must_die
--- error_log
zone "zone=r:4k" is too small



=== TEST 32: a bad ttl
--- http_config
flores_jwt_revocation_zone zone=r:1m ttl=soon;
--- config
location /t { return 204; }
--- must_die
--- error_log
invalid ttl "ttl=soon"



=== TEST 33: an unknown parameter
--- http_config
flores_jwt_revocation_zone zone=r:1m size=3;
--- config
location /t { return 204; }
--- must_die
--- error_log
invalid parameter "size=3"



=== TEST 34: the same zone twice
--- http_config
flores_jwt_revocation_zone zone=r:1m;
flores_jwt_revocation_zone zone=r:1m;
--- config
location /t { return 204; }
--- must_die
--- error_log
flores_jwt_revocation_zone "r" is already defined



=== TEST 35: a zone is declared at http level only
--- config
flores_jwt_revocation_zone zone=r:1m;
location /t { return 204; }
--- must_die
--- error_log
"flores_jwt_revocation_zone" directive is not allowed here



=== TEST 36: flores_jwt_revocation naming no zone
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_revocation nowhere; }"
--- must_die
--- error_log
zero size shared memory zone "nowhere"



=== TEST 37: flores_jwt_revocation_api naming no zone
--- config
location /t { flores_jwt_revocation_api nowhere; }
--- must_die
--- error_log
zero size shared memory zone "nowhere"



=== TEST 38: flores_jwt_revocation twice
--- http_config
flores_jwt_revocation_zone zone=r:1m;
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_revocation r; flores_jwt_revocation r; }"
--- must_die
--- error_log
"flores_jwt_revocation" directive is duplicate
