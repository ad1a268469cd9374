# metrics_config.t: mistakes in flores_metrics_zone, flores_metrics,
# flores_metrics_exclude and flores_service stop nginx at configuration time
# (what "nginx -t" reports), each with a message that names the bad token.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

default_blocks(
    http_config => "    flores_metrics_zone zone=metrics:1m;\n",
    request     => "GET /t\n",
);

run_tests();

# The same through "nginx -t", as an operator runs it: the message points
# at the flores_metrics that has no zone.
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
        location = /metrics {
            flores_metrics;
        }
    }
}
_EOC_
    close $fh;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    # a sanitizer build needs its runtime preloaded, as Test::Nginx does
    my $preload = $ENV{TEST_NGINX_LD_PRELOAD}
                  ? "LD_PRELOAD='$ENV{TEST_NGINX_LD_PRELOAD}' " : '';
    my $out = `$preload$nginx -t -p $prefix -c $conf -e $prefix/logs/error.log 2>&1`;
    Test::More::isnt($?, 0, 'nginx -t fails on flores_metrics without a zone');
    Test::More::like($out,
        qr{\[emerg\] "flores_metrics" in \Q$conf\E:15 needs a "flores_metrics_zone" at http level},
        'nginx -t names the file and the line');
}

__DATA__

=== TEST 1: a zone of size zero
--- http_config
    flores_metrics_zone zone=m:0;
--- config
--- must_die
--- error_log
zone "zone=m:0" is too small



=== TEST 2: a zone smaller than 8 pages
--- http_config
    flores_metrics_zone zone=m:16k;
--- config
--- must_die
--- error_log
zone "zone=m:16k" is too small



=== TEST 3: a zone without a size
--- http_config
    flores_metrics_zone zone=m;
--- config
--- must_die
--- error_log
invalid zone size "zone=m"



=== TEST 4: a size that is not one
--- http_config
    flores_metrics_zone zone=m:lots;
--- config
--- must_die
--- error_log
invalid zone size "zone=m:lots"



=== TEST 5: a zone without a name
--- http_config
    flores_metrics_zone zone=:1m;
--- config
--- must_die
--- error_log
invalid zone name "zone=:1m"



=== TEST 6: the parameter is zone=name:size
--- http_config
    flores_metrics_zone metrics:1m;
--- config
--- must_die
--- error_log
invalid parameter "metrics:1m", "zone=name:size" expected



=== TEST 7: one zone only
--- http_config
    flores_metrics_zone zone=metrics:1m;
    flores_metrics_zone zone=other:1m;
--- config
--- must_die
--- error_log
"flores_metrics_zone" directive is duplicate



=== TEST 8: the zone is declared at http level only
--- http_config
--- config
    flores_metrics_zone zone=metrics:1m;
--- must_die
--- error_log
"flores_metrics_zone" directive is not allowed here



=== TEST 9: a zone name taken by another module
--- http_config
    limit_req_zone $binary_remote_addr zone=shared:1m rate=1r/s;
    flores_metrics_zone zone=shared:1m;
--- config
--- must_die
--- error_log
the shared memory zone "shared" is already declared for a different use



=== TEST 10: the endpoint without a zone
--- http_config
--- config
    location = /metrics { flores_metrics; }
--- must_die
--- error_log eval
qr{\[emerg\] \d+#\d+: "flores_metrics" in \S+nginx\.conf:\d+ needs a "flores_metrics_zone" at http level}



=== TEST 11: the endpoint twice in a location
--- config
    location = /metrics { flores_metrics; flores_metrics; }
--- must_die
--- error_log
"flores_metrics" directive is duplicate



=== TEST 12: the endpoint takes no parameter
--- config
    location = /metrics { flores_metrics zone=metrics; }
--- must_die
--- error_log
invalid number of arguments in "flores_metrics" directive



=== TEST 13: the endpoint is a location
--- config
    flores_metrics;
--- must_die
--- error_log
"flores_metrics" directive is not allowed here



=== TEST 14: flores_metrics_exclude is on or off
--- config
    location /t { flores_metrics_exclude yes; }
--- must_die
--- error_log
invalid value "yes" in "flores_metrics_exclude" directive, it must be "on" or "off"



=== TEST 15: a service name with a space
--- config
    location /t { flores_service "auth service"; }
--- must_die
--- error_log
invalid service name "auth service": only [A-Za-z0-9._-] allowed



=== TEST 16: a service name with a quote (it becomes a label value)
--- config
    location /t { flores_service 'a"b'; }
--- must_die
--- error_log
invalid service name "a"b": only [A-Za-z0-9._-] allowed



=== TEST 17: an empty service name
--- config
    location /t { flores_service ""; }
--- must_die
--- error_log
invalid service name "": 1 to 32 characters expected



=== TEST 18: a service name of 33 characters
--- config
    location /t { flores_service abcdefghijabcdefghijabcdefghijabc; }
--- must_die
--- error_log
invalid service name "abcdefghijabcdefghijabcdefghijabc": 1 to 32 characters expected



=== TEST 19: two services for one location
--- config
    location /t { flores_service auth; flores_service user; }
--- must_die
--- error_log
"flores_service" directive is duplicate



=== TEST 20: a good configuration: 32 characters, a service at server level, exclusion off
--- config
    flores_service abcdefghijabcdefghijabcdefghijab;
    location /t { flores_metrics_exclude off; return 200 "$flores_service\n"; }
    location /u { flores_service user.v2_x-y; return 200 "$flores_service\n"; }
--- request eval
["GET /t", "GET /u"]
--- response_body eval
["abcdefghijabcdefghijabcdefghijab\n", "user.v2_x-y\n"]
