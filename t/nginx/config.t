# config.t: mistakes in the flores_jwt directives stop nginx at configuration
# time (what "nginx -t" reports), each with a message that names the bad
# token; keys are read and checked against the pinned algorithm then, not on
# the first request.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

my $dir = key_dir();
write_secret('hs.key', 's' x 32);
write_secret('short.key', 's' x 31);
write_secret('hs48.key', 's' x 47 . 'x');
write_file('empty.key', '');
write_file('garbage.pem', "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n");
my ($rsa) = gen_rsa('rsa');
gen_rsa('rsa1024', 1024);
gen_ec('ec', 'P-256');
gen_ec('k1', 'secp256k1');
system('openssl', 'genpkey', '-quiet', '-algorithm', 'ED25519', '-out', "$dir/ed.pem") == 0
    && system('openssl', 'pkey', '-in', "$dir/ed.pem", '-pubout', '-out', "$dir/ed.pub") == 0
    or die "ed25519 key\n";
system('openssl', 'req', '-x509', '-new', '-key', $rsa, '-subj', '/CN=flores', '-days', '1',
       '-out', "$dir/cert.pem") == 0 or die "certificate\n";

our $Dir = $dir;

default_blocks(request => "GET /t\n");

run_tests();

# The same checks through "nginx -t", as an operator runs them.
{
    my $prefix = tempdir('flores-nginx-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$prefix/logs" or die;
    my $conf = "$prefix/nginx.conf";
    open my $fh, '>', $conf or die;
    print {$fh} <<"_EOC_";
load_module $ENV{TEST_NGINX_LOAD_MODULES};
pid $prefix/logs/nginx.pid;
lock_file $prefix/logs/nginx.lock;
error_log $prefix/logs/error.log;
events {}
http {
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    server {
        listen 127.0.0.1:1;
        location / {
            flores_jwt on;
            flores_jwt_key_file $dir/short.key;
        }
    }
}
_EOC_
    close $fh;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD} if $ENV{TEST_NGINX_LD_PRELOAD};
    my $out = `$nginx -t -p $prefix -c $conf -e $prefix/logs/error.log 2>&1`;
    Test::More::isnt($?, 0, 'nginx -t fails on a short HS256 secret');
    Test::More::like($out,
        qr{\[emerg\] key file "\Q$dir\E/short\.key" holds a secret of 31 bytes, at least 32 are needed \(or a PEM public key\) in \Q$conf\E:\d+},
        'nginx -t names the key file and the line');
}

__DATA__

=== TEST 1: a key file that does not exist
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/nope.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: cannot open key file "\Q$::Dir\E/nope\.key" \(2: No such file or directory\)}



=== TEST 2: a key file that is a directory
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E" is not a file of 1 to 65536 bytes}



=== TEST 3: an empty key file
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/empty.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/empty\.key" is not a file of 1 to 65536 bytes}



=== TEST 4: an HS secret of 31 bytes (and its newline) is too short
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/short.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/short\.key" holds a secret of 31 bytes, at least 32 are needed}



=== TEST 5: PEM text that does not parse
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_key_file $::Dir/garbage.pem; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/garbage\.pem" is not a PEM public key \("BEGIN PUBLIC KEY"\)}



=== TEST 6: a private key where the public key is wanted
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_key_file $::Dir/rsa.pem; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/rsa\.pem" is not a PEM public key}



=== TEST 7: a certificate is not a public key
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_key_file $::Dir/cert.pem; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/cert\.pem" is not a PEM public key}



=== TEST 8: an RSA key below 2048 bits
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_key_file $::Dir/rsa1024.pub; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/rsa1024\.pub" holds an RSA key of 1024 bits, at least 2048 are needed}



=== TEST 9: an EC key on a curve JWS does not use with these algorithms
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm ES256; flores_jwt_key_file $::Dir/k1.pub; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/k1\.pub" holds an EC key on curve "secp256k1", only P-256 and P-384 are supported}



=== TEST 10: an Ed25519 key
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/ed.pub; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: key file "\Q$::Dir\E/ed\.pub" holds a public key that is neither RSA nor EC}



=== TEST 11: an RSA public key with the default HS256 (the algorithm-confusion setup)
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/rsa.pub; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_key_file" "\Q$::Dir\E/rsa\.pub" in \S+:\d+ holds an RSA public key, but "flores_jwt_algorithm" HS256 needs a secret}



=== TEST 12: a secret with RS256
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm RS256; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_key_file" "\Q$::Dir\E/hs\.key" in \S+:\d+ holds a secret, but "flores_jwt_algorithm" RS256 needs an RSA public key}



=== TEST 13: a P-256 key with ES384
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm ES384; flores_jwt_key_file $::Dir/ec.pub; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_key_file" "\Q$::Dir\E/ec\.pub" in \S+:\d+ holds a key on curve prime256v1, but "flores_jwt_algorithm" ES384 needs secp384r1}



=== TEST 14: the key and the algorithm are checked together, whatever level set each
--- http_config eval
"flores_jwt_key_file $::Dir/rsa.pub;"
--- config
    location /t {
        flores_jwt on;
    }
--- must_die
--- error_log
holds an RSA public key, but "flores_jwt_algorithm" HS256 needs a secret



=== TEST 15: a key inherited from http{} with the algorithm set in the location starts
--- http_config eval
"flores_jwt_key_file $::Dir/rsa.pub;"
--- config
    location /t {
        flores_jwt on;
        flores_jwt_algorithm RS256;
    }
--- error_code: 401



=== TEST 16: a key that does not fit the default algorithm is fine where flores_jwt is off
--- http_config eval
"flores_jwt_key_file $::Dir/rsa.pub;"
--- config
    location /t {
        return 204;
    }
--- error_code: 204



=== TEST 17: an unknown algorithm
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm PS256; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log
invalid value "PS256"



=== TEST 18: "none" is not an algorithm
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm none; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log
invalid value "none"



=== TEST 19: an unknown mode
--- config eval
"location /t { flores_jwt yes; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log
invalid value "yes"



=== TEST 20: flores_jwt on without a key
--- config
    location /t {
        flores_jwt on;
    }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: no "flores_jwt_key_file" is defined for "flores_jwt" in \S+nginx\.conf:\d+}



=== TEST 21: flores_jwt optional without a key
--- config
    location /t {
        flores_jwt optional;
    }
--- must_die
--- error_log
no "flores_jwt_key_file" is defined for "flores_jwt"



=== TEST 22: flores_jwt twice
--- config eval
"location /t { flores_jwt on; flores_jwt off; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log
"flores_jwt" directive is duplicate



=== TEST 23: flores_jwt_key_file twice
--- config eval
"location /t { flores_jwt on; flores_jwt_key_file $::Dir/hs.key; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log
"flores_jwt_key_file" directive is duplicate



=== TEST 24: flores_jwt_algorithm twice
--- config
    location /t { flores_jwt_algorithm HS256; flores_jwt_algorithm HS512; }
--- must_die
--- error_log
"flores_jwt_algorithm" directive is duplicate



=== TEST 25: flores_jwt_issuer twice
--- config
    location /t { flores_jwt_issuer a; flores_jwt_issuer b; }
--- must_die
--- error_log
"flores_jwt_issuer" directive is duplicate



=== TEST 26: flores_jwt_audience twice
--- config
    location /t { flores_jwt_audience a; flores_jwt_audience b; }
--- must_die
--- error_log
"flores_jwt_audience" directive is duplicate



=== TEST 27: flores_jwt_leeway twice
--- config
    location /t { flores_jwt_leeway 1s; flores_jwt_leeway 2s; }
--- must_die
--- error_log
"flores_jwt_leeway" directive is duplicate



=== TEST 28: flores_jwt_require_role twice
--- config
    location /t { flores_jwt_require_role admin; flores_jwt_require_role customer; }
--- must_die
--- error_log
"flores_jwt_require_role" directive is duplicate



=== TEST 29: an empty issuer
--- config
    location /t { flores_jwt_issuer ""; }
--- must_die
--- error_log
"flores_jwt_issuer" directive must not be empty



=== TEST 30: an empty audience
--- config
    location /t { flores_jwt_audience ""; }
--- must_die
--- error_log
"flores_jwt_audience" directive must not be empty



=== TEST 31: an empty role
--- config
    location /t { flores_jwt_require_role admin ""; }
--- must_die
--- error_log
invalid role ""



=== TEST 32: a leeway that is not a time
--- config
    location /t { flores_jwt_leeway soon; }
--- must_die
--- error_log
"flores_jwt_leeway" directive invalid value



=== TEST 33: a leeway over 10 minutes
--- config
    location /t { flores_jwt_leeway 1h; }
--- must_die
--- error_log
value must be between 0 and 600



=== TEST 34: optional with a required role (an anonymous request has no role)
--- config eval
"location /t { flores_jwt optional; flores_jwt_require_role admin; flores_jwt_key_file $::Dir/hs.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt optional" in \S+:\d+ cannot be combined with "flores_jwt_require_role"}



=== TEST 35: directives take their number of arguments
--- config
    location /t { flores_jwt; }
--- must_die
--- error_log
invalid number of arguments in "flores_jwt" directive



=== TEST 36: a relative key path is relative to the configuration prefix
--- config
    location /t {
        flores_jwt on;
        flores_jwt_key_file conf/missing.key;
    }
--- must_die
--- error_log eval
qr{cannot open key file "\S+/conf/missing\.key"}



=== TEST 37: a valid configuration at every level starts, and refuses without a token
--- http_config eval
"flores_jwt_key_file $::Dir/hs.key; flores_jwt_issuer flores-victoria; flores_jwt_audience flores-victoria-api; flores_jwt_leeway 0s;"
--- config
    flores_jwt on;
    location /t {
        flores_jwt_require_role admin customer;
    }
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="flores-victoria", error="invalid_token"


=== TEST 38: HS384 and HS512 secrets are at least as long as their hash
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm HS512; flores_jwt_key_file $::Dir/hs48.key; }"
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_jwt_key_file" "\Q$::Dir\E/hs48\.key" in \S+:\d+ holds a secret of 48 bytes, but "flores_jwt_algorithm" HS512 needs at least 64}



=== TEST 39: a 48-byte secret is enough for HS384
--- config eval
"location /t { flores_jwt on; flores_jwt_algorithm HS384; flores_jwt_key_file $::Dir/hs48.key; }"
--- error_code: 401
