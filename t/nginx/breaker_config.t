# breaker_config.t: a circuit-breaker configuration mistake fails `nginx -t`
# with a message that names the bad token (zone size and name, unknown zone
# or profile, bad percentages and times, a location without a service,
# two breakers for one service, duplicates, unknown parameters), and the
# shipped conf/nginx/breakers.conf, with the lines the service locations and
# the internal listener use, passes it.

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
    my $dir = tempdir('flores-breaker-XXXXXX', TMPDIR => 1, CLEANUP => 1);
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

# Under the sanitizers, nginx -t may exit non-zero after a successful test:
# LeakSanitizer can find nginx's own cycle unreferenced once main() returns
# (in test mode only main's stack points to it). Such reports name no module
# function, and `make check` fails on any that does.
sub passes {
    my ($name, $http, $server) = @_;
    my ($rc, $out) = nginx_t($http, $server);
    like($out, qr/configuration file \S+ test is successful/, "$name: nginx -t passes")
        or diag($out);
    is($rc, 0, "$name: exit code 0") unless $ENV{TEST_NGINX_LD_PRELOAD};
    unlike($out, qr/ERROR: AddressSanitizer|runtime error:/, "$name: no sanitizer report");
}

my $zone = 'flores_breaker_zone zone=b:64k;';
my $profile = 'flores_breaker_profile p failures=50% min_calls=5 window=10s open=30s probes=2;';
my $decl = "$zone\n$profile";
my $use = 'location / { flores_service auth; flores_breaker zone=b profile=p; return 200; }';

# The zone

fails('no size', 'flores_breaker_zone zone=b;', '',
      qr/\[emerg\] \d+#\d+: invalid zone "zone=b": expected zone=name:size/);

fails('zero size', 'flores_breaker_zone zone=b:0;', '',
      qr/\[emerg\] \d+#\d+: invalid zone size "zone=b:0"/);

fails('bad size', 'flores_breaker_zone zone=b:lots;', '',
      qr/\[emerg\] \d+#\d+: invalid zone size "zone=b:lots"/);

fails('too small', 'flores_breaker_zone zone=b:16k;', '',
      qr/\[emerg\] \d+#\d+: zone "zone=b:16k" is too small: at least 32k/);

fails('bad zone name', 'flores_breaker_zone zone=b"x:64k;', '',
      qr/\[emerg\] \d+#\d+: invalid zone name "zone=b"x:64k": letters, digits/);

fails('not zone=', 'flores_breaker_zone b:64k;', '',
      qr/\[emerg\] \d+#\d+: invalid parameter "b:64k": expected zone=name:size/);

fails('two parameters', 'flores_breaker_zone zone=b:64k zone=c:64k;', '',
      qr/\[emerg\] \d+#\d+: invalid number of arguments in "flores_breaker_zone" directive/);

fails('duplicate zone', "$zone\n$zone", '', qr/\[emerg\] \d+#\d+: duplicate zone "b"/);

fails('zone in a server', '', $zone,
      qr/\[emerg\] \d+#\d+: "flores_breaker_zone" directive is not allowed here/);

# A zone too small for its breakers: each service is a node of the zone.
{
    my $many = join "\n", map { "location /s$_/ { flores_service s$_; flores_breaker zone=b profile=p; return 200; }" } 1 .. 300;
    fails('zone too small for its breakers', "flores_breaker_zone zone=b:32k;\n$profile", $many,
          qr/\[emerg\] (?:\d+#\d+: )?flores_breaker_zone "b" is too small for its breakers/);
}

# Profiles

fails('bad profile name', "$zone\nflores_breaker_profile a/b failures=50% open=1s;", '',
      qr/\[emerg\] \d+#\d+: invalid profile name "a\/b"/);

fails('duplicate profile', "$decl\n$profile", '',
      qr/\[emerg\] \d+#\d+: duplicate profile "p"/);

for my $f ('failures=50', 'failures=0%', 'failures=101%', 'failures=abc%', 'failures=%', 'failures=-5%') {
    fails("bad percentage $f", "flores_breaker_profile p $f open=1s;", '',
          qr/\[emerg\] \d+#\d+: invalid failures "\Q$f\E": a percentage from 1% to 100% expected/);
}

for my $t ('open=0', 'open=abc', 'open=2d', 'open=', 'open=-1s') {
    fails("bad time $t", "flores_breaker_profile p failures=50% $t;", '',
          qr/\[emerg\] \d+#\d+: invalid time "\Q$t\E": from 1ms to 1d expected/);
}

fails('bad probe_timeout', 'flores_breaker_profile p failures=50% open=1s probe_timeout=soon;', '',
      qr/\[emerg\] \d+#\d+: invalid time "probe_timeout=soon"/);

for my $w ('window=500ms', 'window=0', 'window=2h', 'window=x') {
    fails("bad window $w", "flores_breaker_profile p failures=50% open=1s $w;", '',
          qr/\[emerg\] \d+#\d+: invalid window "\Q$w\E": whole seconds from 1s to 1h expected/);
}

for my $n ('min_calls=0', 'min_calls=x', 'probes=0', 'probes=1001', 'consecutive=0', 'consecutive=-1') {
    fails("bad count $n", "flores_breaker_profile p failures=50% open=1s $n;", '',
          qr/\[emerg\] \d+#\d+: invalid value "\Q$n\E": a number from \d+ to \d+ expected/);
}

fails('never opens', 'flores_breaker_profile p min_calls=5 open=1s;', '',
      qr/\[emerg\] \d+#\d+: profile "p" never opens: it needs "failures=N%" or "consecutive=N"/);

fails('never opens (consecutive=off)', 'flores_breaker_profile p consecutive=off open=1s;', '',
      qr/\[emerg\] \d+#\d+: profile "p" never opens/);

fails('min_calls without failures', 'flores_breaker_profile p consecutive=3 min_calls=5 open=1s;', '',
      qr/\[emerg\] \d+#\d+: "min_calls" of profile "p" needs "failures=N%"/);

fails('no open', 'flores_breaker_profile p failures=50%;', '',
      qr/\[emerg\] \d+#\d+: profile "p" must have "open=time"/);

fails('unknown profile parameter', 'flores_breaker_profile p failures=50% open=1s ratio=3;', '',
      qr/\[emerg\] \d+#\d+: invalid parameter "ratio=3"/);

fails('duplicate profile parameter', 'flores_breaker_profile p failures=50% open=1s open=2s;', '',
      qr/\[emerg\] \d+#\d+: duplicate parameter "open=2s"/);

fails('profile in a server', $zone, $profile,
      qr/\[emerg\] \d+#\d+: "flores_breaker_profile" directive is not allowed here/);

# Using them

fails('unknown zone', $decl, 'location / { flores_service auth; flores_breaker zone=nope profile=p; }',
      qr/\[emerg\] \d+#\d+: unknown zone "nope" in "flores_breaker" in \S+nginx\.conf:\d+ \(declare it with "flores_breaker_zone"\)/);

fails('unknown profile', $decl, 'location / { flores_service auth; flores_breaker zone=b profile=nope; }',
      qr/\[emerg\] \d+#\d+: unknown profile "nope" in "flores_breaker" in \S+nginx\.conf:\d+ \(declare it with "flores_breaker_profile"\)/);

fails('no service', $decl, 'location /x { flores_breaker zone=b profile=p; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker" in \S+nginx\.conf:\d+ guards a location without "flores_service"/);

fails('two breakers for one service', "$decl\nflores_breaker_profile q consecutive=3 open=1s;",
      'location /a { flores_service auth; flores_breaker zone=b profile=p; }
       location /b { flores_service auth; flores_breaker zone=b profile=q; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker zone=b profile=q" in \S+nginx\.conf:\d+ conflicts with the breaker of service "auth" in \S+nginx\.conf:\d+ \(zone=b profile=p\): one service has one breaker/);

fails('duplicate flores_breaker', $decl,
      'location / { flores_service auth; flores_breaker zone=b profile=p; flores_breaker zone=b profile=p; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker" directive is duplicate/);

fails('no profile', $decl, 'location / { flores_service auth; flores_breaker zone=b; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker" must have "zone=name" and "profile=name"/);

fails('no zone', $decl, 'location / { flores_service auth; flores_breaker profile=p; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker" must have "zone=name" and "profile=name"/);

fails('unknown breaker parameter', $decl, 'location / { flores_service auth; flores_breaker zone=b profile=p probes=3; }',
      qr/\[emerg\] \d+#\d+: invalid parameter "probes=3"/);

fails('duplicate breaker parameter', $decl, 'location / { flores_service auth; flores_breaker zone=b zone=b profile=p; }',
      qr/\[emerg\] \d+#\d+: duplicate parameter "zone=b"/);

fails('breaker in a server', $decl, 'flores_service auth; flores_breaker zone=b profile=p;',
      qr/\[emerg\] \d+#\d+: "flores_breaker" directive is not allowed here/);

fails('duplicate status', $decl, 'location /s { flores_breaker_status; flores_breaker_status; }',
      qr/\[emerg\] \d+#\d+: "flores_breaker_status" directive is duplicate/);

# Good ones

passes('zone and profile declared after their use; the service from the server; nested locations; off',
       "$profile\n$zone\nflores_breaker_profile q consecutive=3 open=500ms probe_timeout=10s;",
       'flores_service auth;
        location /a {
            flores_breaker zone=b profile=p;
            location /a/public/ { flores_breaker off; return 200; }
            location /a/other/ { return 200; }
        }
        location /b { flores_service cart; flores_breaker zone=b profile=q; }
        location /b2 { flores_service cart; flores_breaker zone=b profile=q; }
        location = /breakers { flores_breaker_status; }');

# The shipped profiles, with the lines the service locations and the internal listener use.
passes('conf/nginx/breakers.conf and the service lines', "    include $conf_dir/breakers.conf;", <<'_EOS_');
        location /api/auth/ {
            flores_service auth;
            flores_breaker zone=breakers profile=critical;
            return 200;
            location = /api/auth/me { return 200; }
        }
        location /api/users/    { flores_service user;     flores_breaker zone=breakers profile=critical;     return 200; }
        location /api/products/ { flores_service product;  flores_breaker zone=breakers profile=standard;     return 200; }
        location /api/orders/   { flores_service order;    flores_breaker zone=breakers profile=standard;     return 200; }
        location /api/cart/     { flores_service cart;     flores_breaker zone=breakers profile=standard;     return 200; }
        location /api/wishlist/ { flores_service wishlist; flores_breaker zone=breakers profile=non_critical; return 200; }
        location /api/reviews/  { flores_service review;   flores_breaker zone=breakers profile=non_critical; return 200; }
        location /api/contact/  { flores_service contact;  flores_breaker zone=breakers profile=non_critical; return 200; }
        location = /breakers {
            limit_except GET POST { deny all; }
            flores_breaker_status;
        }
_EOS_

done_testing();
