# jwt_config.t: `nginx -t` on a configuration that uses every kind of key
# (HS256, HS512, RS256, ES256, ES384, JWKS sets of EC and RSA keys, a trusted
# issuer, a revocation zone) and the token cache passes, and leaves
# nothing of the module behind: keys are made ready by the workers, not by
# the configuration test (under the sanitizers, `make check` fails on any
# leak report that names a module function).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use Flores::NginxTest qw(key_dir write_secret write_file gen_rsa gen_ec jwk write_jwks);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES names no module' unless @modules;

my $keys = key_dir();
write_secret('hs.key', 'h' x 64);
gen_rsa('rsa');
gen_ec('ec', 'P-256');
gen_ec('ec384', 'P-384');
write_jwks('rsa.json', jwk("$keys/rsa.pub", kid => 'r', alg => 'RS256'));
# a set as editors and tools write it: spaces, a final newline
write_file('pretty.json', "{\n  \"keys\": [\n    " . JSON::PP->new->canonical->encode(jwk("$keys/ec.pub")) . "\n  ]\n}\n");

# nginx -t on an http{} block made of $http and one server with $server;
# returns the exit code and what nginx printed.
sub nginx_t {
    my ($http, $server) = @_;
    my $dir = tempdir('flores-jwt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/logs" or die;
    mkdir "$dir/tmp" or die;

    my $load = join '', map { "load_module $_;\n" } @modules;

    open my $fh, '>', "$dir/nginx.conf" or die;
    print {$fh} <<"_EOC_";
${load}pid $dir/logs/nginx.pid;
lock_file $dir/logs/nginx.lock;
error_log $dir/logs/error.log;
events { }
http {
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    access_log off;

$http
    server {
        listen 127.0.0.1:1;
$server
    }
}
_EOC_
    close $fh or die;

    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
        if $ENV{TEST_NGINX_LD_PRELOAD};

    my $out = qx{$nginx -t -p $dir -c $dir/nginx.conf -e stderr 2>&1};
    return ($? >> 8, $out);
}

# Under the sanitizers nginx -t may exit non-zero after a successful test
# (nginx's own cycle is found unreferenced once main() returns): the exit
# code is only checked without them.
sub passes {
    my ($name, $http, $server) = @_;
    my ($rc, $out) = nginx_t($http, $server);
    like($out, qr/configuration file \S+ test is successful/, "$name: nginx -t passes")
        or diag($out);
    is($rc, 0, "$name: exit code 0") unless $ENV{TEST_NGINX_LD_PRELOAD};
    unlike($out, qr/ERROR: AddressSanitizer|runtime error:|ngx_http_flores/,
           "$name: no sanitizer report");
}

my $locations = <<"_EOC_";
        location /hs256 { flores_jwt on; return 200; }
        location /hs512 { flores_jwt on; flores_jwt_algorithm HS512; return 200; }
        location /rs256 { flores_jwt on; flores_jwt_algorithm RS256;
                          flores_jwt_key_file $keys/rsa.pub; return 200; }
        location /es256 { flores_jwt optional; flores_jwt_algorithm ES256;
                          flores_jwt_key_file $keys/ec.pub; return 200; }
        location /es384 { flores_jwt on; flores_jwt_algorithm ES384;
                          flores_jwt_key_file $keys/ec384.pub;
                          flores_jwt_require_role admin; return 200; }
_EOC_

passes('every algorithm, the default cache',
       "flores_jwt_key_file $keys/hs.key;\nflores_jwt_issuer flores-victoria;",
       $locations);

passes('a large cache',
       "flores_jwt_key_file $keys/hs.key;\nflores_jwt_cache size=1048576;",
       $locations);

passes('no cache',
       "flores_jwt_key_file $keys/hs.key;\nflores_jwt_cache off;",
       $locations);

passes('key sets, a trusted issuer, a revocation zone',
       "flores_jwt_key_file $keys/hs.key;\n"
       . "flores_jwt_revocation_zone zone=revoked:1m ttl=20m;",
       <<"_EOC_");
        location /jwks { flores_jwt on; flores_jwt_algorithm ES256;
                         flores_jwt_jwks_file $keys/pretty.json;
                         flores_jwt_revocation revoked; return 200; }
        location /p384 { flores_jwt on; flores_jwt_algorithm ES384;
                         flores_jwt_key_file $keys/ec384.pub;
                         flores_jwt_trust issuer=partner jwks=$keys/rsa.json
                                          algorithm=RS256; return 200; }
        location /revocations { flores_jwt_revocation_api revoked; }
_EOC_

done_testing();
