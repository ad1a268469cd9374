# limit_config.t: a rate-limit configuration mistake fails `nginx -t` with a
# message that names the bad token (unknown zone, zero or too small size, bad
# rate, missing or bad key, duplicates, unknown parameters), and the shipped
# conf/nginx/limits.conf, with the tier lines the service locations use,
# passes it.

use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES names no module' unless @modules;

my $conf_dir = "$FindBin::Bin/../../conf/nginx";

# nginx -t on an http{} block made of $http and one server with $server;
# returns the exit code and what nginx printed.
sub nginx_t {
    my ($http, $server) = @_;
    my $dir = tempdir('flores-limit-XXXXXX', TMPDIR => 1, CLEANUP => 1);
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

sub fails {
    my ($name, $http, $server, $message) = @_;
    my ($rc, $out) = nginx_t($http, $server);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $message, "$name: says why");
    unlike($out, qr/AddressSanitizer|runtime error:/, "$name: no sanitizer report");
}

my $zone = 'flores_limit_zone key=$binary_remote_addr zone=a:1m rate=10r/m;';
my $use = 'location / { flores_limit zone=a; }';

# Declaring zones

fails('unknown zone', $zone, 'location / { flores_limit zone=nope; }',
      qr/\[emerg\] \d+#\d+: unknown zone "nope" in "flores_limit" in \S+nginx\.conf:\d+/);

fails('zero size', 'flores_limit_zone key=$binary_remote_addr zone=a:0 rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid zone size "zone=a:0"/);

fails('no size', 'flores_limit_zone key=$binary_remote_addr zone=a rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid zone "zone=a": expected zone=name:size/);

fails('bad size', 'flores_limit_zone key=$binary_remote_addr zone=a:lots rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid zone size "zone=a:lots"/);

fails('too small', 'flores_limit_zone key=$binary_remote_addr zone=a:16k rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: zone "zone=a:16k" is too small: at least 32k/);

fails('bad zone name', 'flores_limit_zone key=$binary_remote_addr zone=a"b:1m rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid zone name/);

for my $rate ('rate=abc', 'rate=0r/s', 'rate=10r/0m', 'rate=10r/x', 'rate=10/m', 'rate=10r/m5',
              'rate=', 'rate=99999999999r/s', 'rate=1r/400d') {
    fails("bad rate $rate", "flores_limit_zone key=\$binary_remote_addr zone=a:1m $rate;", '',
          qr/\[emerg\] \d+#\d+: invalid rate "\Q$rate\E": expected rate=<N>r\/<s\|m\|h\|d>/);
}

fails('rate too high', 'flores_limit_zone key=$binary_remote_addr zone=a:1m rate=2000000r/s;', '',
      qr/\[emerg\] \d+#\d+: rate of zone "a" is too high/);

fails('bad burst', 'flores_limit_zone key=$binary_remote_addr zone=a:1m rate=1r/s burst=-1;', '',
      qr/\[emerg\] \d+#\d+: invalid burst "burst=-1"/);

fails('missing key', 'flores_limit_zone zone=a:1m rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: "flores_limit_zone" must have "key=..." \(zone "a"\)/);

fails('empty key', 'flores_limit_zone key= zone=a:1m rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid key "key=": empty/);

fails('bad key', 'flores_limit_zone key=${binary_remote_addr zone=a:1m rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: invalid key "key=\$\{binary_remote_addr"/);

fails('unknown variable in key', 'flores_limit_zone key=$no_such_thing zone=a:1m rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: unknown "no_such_thing" variable/);

fails('missing rate', 'flores_limit_zone key=$binary_remote_addr zone=a:1m;', '',
      qr/\[emerg\] \d+#\d+: "flores_limit_zone" must have "rate=..." \(zone "a"\)/);

fails('missing zone', 'flores_limit_zone key=$binary_remote_addr rate=1r/s;', '',
      qr/\[emerg\] \d+#\d+: "flores_limit_zone" must have "zone=name:size"/);

fails('unknown parameter', 'flores_limit_zone key=$binary_remote_addr zone=a:1m rate=1r/s nodelay;', '',
      qr/\[emerg\] \d+#\d+: invalid parameter "nodelay"/);

fails('duplicate parameter', 'flores_limit_zone key=$binary_remote_addr zone=a:1m rate=1r/s rate=2r/s;', '',
      qr/\[emerg\] \d+#\d+: duplicate parameter "rate=2r\/s"/);

fails('duplicate zone', "$zone\n$zone", '', qr/\[emerg\] \d+#\d+: duplicate zone "a"/);

fails('zone in a server', '', $zone, qr/\[emerg\] \d+#\d+: "flores_limit_zone" directive is not allowed here/);

# Using them

fails('duplicate limit', $zone, 'location / { flores_limit zone=a; flores_limit zone=a dry_run; }',
      qr/\[emerg\] \d+#\d+: duplicate limit: zone "a" is already used here/);

fails('limit without zone', $zone, 'location / { flores_limit dry_run; }',
      qr/\[emerg\] \d+#\d+: "flores_limit" must have "zone=name"/);

fails('unknown limit parameter', $zone, 'location / { flores_limit zone=a burst=5; }',
      qr/\[emerg\] \d+#\d+: invalid parameter "burst=5"/);

fails('bad status', $zone, 'location / { flores_limit zone=a status=401,abc; }',
      qr/\[emerg\] \d+#\d+: invalid status "abc" in "status=401,abc"/);

fails('status out of range', $zone, 'location / { flores_limit zone=a status=99; }',
      qr/\[emerg\] \d+#\d+: invalid status "99" in "status=99"/);

fails('too many statuses', $zone, 'location / { flores_limit zone=a status=400,401,402,403,404,405,406,407,408; }',
      qr/\[emerg\] \d+#\d+: too many statuses in "status=400,[\d,]+": at most 8/);

fails('off with limits', $zone, 'location / { flores_limit zone=a; flores_limit off; }',
      qr/\[emerg\] \d+#\d+: "flores_limit off" cannot be combined with other "flores_limit" lines/);

fails('bad log level', $zone, 'flores_limit_log_level debug;',
      qr/\[emerg\] \d+#\d+: invalid value "debug" in \S+nginx\.conf/);

fails('bad headers flag', $zone, 'flores_limit_headers maybe;',
      qr/\[emerg\] \d+#\d+: invalid value "maybe" in "flores_limit_headers" directive/);

# Good ones

{
    my ($rc, $out) = nginx_t("$zone\n    flores_limit_zone key=\$http_x_user zone=b:32k rate=10r/15m burst=3;",
                             "flores_limit zone=a;\n location /x { flores_limit zone=b status=401,403 dry_run; }"
                             . "\n location /y { flores_limit off; }");
    is($rc, 0, 'a zone declared after its use, every parameter') or diag($out);
}

# The shipped zones, with the lines the service locations use.
{
    my $key = File::Temp->new(TMPDIR => 1);
    print {$key} 'k' x 40, "\n";
    close $key;

    my ($rc, $out) = nginx_t(<<"_EOH_", <<'_EOS_');
    flores_jwt_key_file $key;
    include $conf_dir/limits.conf;
_EOH_
        flores_limit zone=public;
        flores_limit zone=authenticated;
        flores_limit zone=admin;

        location /api/auth/ {
            flores_jwt optional;
            return 200;

            location = /api/auth/login {
                flores_limit zone=public;
                flores_limit zone=authenticated;
                flores_limit zone=admin;
                flores_limit zone=login_address status=401;
                flores_limit zone=login status=401;
                return 200;
            }

            location = /api/auth/register {
                flores_limit zone=public;
                flores_limit zone=authenticated;
                flores_limit zone=admin;
                flores_limit zone=register;
                return 200;
            }

            location = /api/auth/forgot-password {
                flores_limit zone=public;
                flores_limit zone=authenticated;
                flores_limit zone=admin;
                flores_limit zone=forgot_password;
                return 200;
            }
        }

        location /api/products {
            flores_jwt optional;
            flores_limit zone=public;
            flores_limit zone=authenticated;
            flores_limit zone=admin;
            flores_limit zone=search;
            return 200;
        }
_EOS_
    is($rc, 0, 'conf/nginx/limits.conf and the tier lines pass nginx -t') or diag($out);
}

done_testing();
