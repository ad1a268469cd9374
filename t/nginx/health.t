# health.t: flores_health answers GET /health from every service's own
# health location, asked at once (parallel subrequests), and the breaker
# state: ok (200) when all are up, degraded (200) when a service that is not
# critical is down, down (503, in the error envelope) when a critical one is
# or all are. A service is down when its check answers anything but 2xx,
# times out, cannot be reached or breaks the connection.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Time::HiRes ();
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;
use Flores::FastCGI;

master_on();
workers(2);

$ENV{TEST_NGINX_FLORES_CONF} = "$FindBin::Bin/../../conf/nginx";

# The services' GET /health, by what the check location rewrote it to.
my $fcgi = Flores::FastCGI->start(sub {
    my $p = shift;
    my $uri = $p->{DOCUMENT_URI};
    my $ok = qq({"status":"success","data":{"status":"ok"}});

    return (200, {}, $ok) if $uri eq '/health';
    return (503, {}, qq({"status":"error","code":"STORE_DOWN"})) if $uri eq '/health-503';
    return (500, {}, '') if $uri eq '/health-500';
    return if $uri eq '/health-broken';

    if ($uri eq '/health-args') {
        return ($p->{QUERY_STRING} eq 'deep=1' ? 200 : 500, {}, $ok);
    }

    if ($uri =~ m{^/health-sleep-(\d+)$}) {
        select undef, undef, undef, $1 / 1000;
        return (200, {}, $ok);
    }

    return (404, {}, '');
});

$ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;

# Latencies vary: the tests see N.
sub latency { my $s = shift; $s =~ s/"latencyMs":\d+/"latencyMs":N/g; $s }

sub http_get {
    my $path = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!";
    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    return <$s>;
}

# How long GET /health takes, in seconds.
sub timed_health {
    my $t0 = [Time::HiRes::gettimeofday()];
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!";
    print {$s} "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $answer = <$s>;
    return (Time::HiRes::tv_interval($t0), $answer);
}

my $checks = <<'_EOC_';
    # GET /_health/<service>/<what the stand-in should do>
    location ~ ^/_health/(?<svc>[a-z]+)/(?<how>[a-z0-9-]+)$ {
        internal;
        rewrite ^ /$how break;
        fastcgi_connect_timeout 1s;
        fastcgi_send_timeout    1s;
        fastcgi_read_timeout    1s;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    # nothing listens there
    location = /_health/unreachable {
        internal;
        fastcgi_connect_timeout 1s;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

our $Checks = $checks;

default_blocks(request => "GET /health\n");

add_block_preprocessor(sub {
    my $block = shift;

    # every block has the check locations
    if (defined $block->config) {
        $block->set_value('config', $block->config . $checks);
    }
});

run_tests();

__DATA__

=== TEST 1: every service up: ok
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check product /_health/product/health;
        flores_health_check cart /_health/cart/health;
    }
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"ok","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"product":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"up","circuit":"closed","latencyMs":N}}}}



=== TEST 2: a service that is not critical answers 503: degraded, still 200
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check product /_health/product/health-503;
        flores_health_check cart /_health/cart/health;
    }
--- error_code: 200
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"product":{"status":"down","circuit":"closed","latencyMs":N},"cart":{"status":"up","circuit":"closed","latencyMs":N}}}}



=== TEST 3: a service that cannot be reached: degraded
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check cart /_health/unreachable;
    }
--- error_code: 200
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"down","circuit":"closed","latencyMs":N}}}}



=== TEST 4: the critical service down: down, 503 in the error envelope with the request id
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health-500 critical;
        flores_health_check product /_health/product/health;
    }
--- more_headers
X-Request-ID: health-check-1
--- error_code: 503
--- response_headers
Content-Type: application/json
Retry-After: 5
Cache-Control: no-store
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"error","code":"SERVICE_UNAVAILABLE","message":"El servicio no está disponible","requestId":"health-check-1","data":{"status":"down","services":{"auth":{"status":"down","circuit":"closed","latencyMs":N},"product":{"status":"up","circuit":"closed","latencyMs":N}}}}



=== TEST 5: every service down, none critical: down
--- config
    location = /health {
        flores_health;
        flores_health_check product /_health/product/health-503;
        flores_health_check cart /_health/unreachable;
    }
--- error_code: 503
--- response_body_like: "data":\{"status":"down","services":\{"product":\{"status":"down",.*"cart":\{"status":"down",



=== TEST 6: a service slower than its check location's timeout (1 s) is down, and the answer comes then
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check cart /_health/cart/health-sleep-3000;
    }
--- error_code: 200
--- response_body_like: "cart":\{"status":"down","circuit":"closed","latencyMs":1\d\d\d\}
--- error_log
upstream timed out
--- timeout: 5



=== TEST 7: a service that breaks the connection without answering is down
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check review /_health/review/health-broken;
    }
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"review":{"status":"down","circuit":"closed","latencyMs":N}}}}



=== TEST 8: checks run at once: three services of 0.5 s each answer in well under 1.5 s
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health-sleep-500 critical;
        flores_health_check product /_health/product/health-sleep-500;
        flores_health_check cart /_health/cart/health-sleep-500;
    }
--- init
my ($took, $answer) = ::timed_health();
Test::More::cmp_ok($took, '<', 1.0, "three checks of 0.5 s took $took s");
Test::More::like($answer, qr/"status":"ok"/, 'and all were up');
Test::More::like($answer, qr/"latencyMs":[5-9]\d\d\}/, 'each took about 0.5 s');
--- response_body_like: "status":"ok"
--- timeout: 5



=== TEST 9: a check's query string reaches the service
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health-args?deep=1 critical;
    }
--- response_body_like: "auth":\{"status":"up"



=== TEST 10: no checks: ok, and no services
--- config
    location = /health { flores_health; }
--- response_body chomp
{"status":"success","data":{"status":"ok","services":{}}}



=== TEST 11: any 2xx from any kind of location is up; 3xx is not
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_static/ok;
        flores_health_check user /_static/empty;
        flores_health_check cart /_static/moved;
    }
    location = /_static/ok { internal; return 200 "fine"; }
    location = /_static/empty { internal; return 204; }
    location = /_static/moved { internal; return 302 /elsewhere; }
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"user":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"down","circuit":"closed","latencyMs":N}}}}



=== TEST 12: checks set at server level are inherited; a location's own replace them
--- config
    flores_health_check auth /_health/auth/health critical;
    location = /health { flores_health; }
    location = /health2 {
        flores_health;
        flores_health_check cart /_health/cart/health;
    }
--- request eval
["GET /health", "GET /health2"]
--- response_body_filters eval
\&::latency
--- response_body eval
['{"status":"success","data":{"status":"ok","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N}}}}',
 '{"status":"success","data":{"status":"ok","services":{"cart":{"status":"up","circuit":"closed","latencyMs":N}}}}']



=== TEST 13: HEAD has the status and no body; other methods are refused
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health-503 critical;
    }
--- request eval
["HEAD /health", "POST /health\nx=1", "DELETE /health"]
--- error_code eval
[503, 405, 405]
--- response_body_like eval
["^\$", "405 Not Allowed", "405 Not Allowed"]



=== TEST 14: the checks are not counted as requests in the metrics; /health is, once
--- http_config
    flores_metrics_zone zone=metrics:1m;
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check product /_health/product/health;
    }
    location = /metrics { flores_metrics; }
--- request eval
["GET /health", "GET /health", "GET /metrics"]
--- response_body_filters eval
[[sub { '' }], [sub { '' }],
 [sub { CORE::join '', grep { /_total\{.*\} [1-9]/ } split /^/, $_[0] }]]
--- response_body eval
["", "", qq{flores_gateway_requests_total{service="gateway",code_class="2xx"} 2\n}]



=== TEST 15: many clients at once, on both workers
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check product /_health/product/health-503;
        flores_health_check cart /_health/unreachable;
    }
--- request eval
[("GET /health") x 20]
--- response_body_like eval
[(qr/"status":"degraded"/) x 20]



=== TEST 16: an open circuit makes its service down, though its own health check passes
--- http_config
    flores_breaker_zone zone=breakers:64k;
    flores_breaker_profile quick consecutive=2 open=60s;
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check cart /_health/cart/health;
    }

    location /api/cart/ {
        flores_service cart;
        flores_breaker zone=breakers profile=quick;
        rewrite ^ /health-500 break;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }
--- request eval
["GET /health", "GET /api/cart/1", "GET /api/cart/2", "GET /api/cart/3", "GET /health"]
--- error_code eval
[200, 500, 500, 503, 200]
--- response_body_filters eval
[[\&::latency], [sub { '' }], [sub { '' }], [sub { '' }], [\&::latency]]
--- response_body eval
['{"status":"success","data":{"status":"ok","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"up","circuit":"closed","latencyMs":N}}}}',
 "", "", "",
 '{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"down","circuit":"open","latencyMs":N}}}}']



=== TEST 17: the critical service's circuit open: down, 503
--- http_config
    flores_breaker_zone zone=breakers:64k;
    flores_breaker_profile quick consecutive=2 open=60s;
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check cart /_health/cart/health;
    }

    location /api/auth/ {
        flores_service auth;
        flores_breaker zone=breakers profile=quick;
        rewrite ^ /health-503 break;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }
--- request eval
["GET /api/auth/1", "GET /api/auth/2", "GET /health"]
--- error_code eval
[503, 503, 503]
--- response_body_like eval
[qr/STORE_DOWN/, qr/STORE_DOWN/,
 qr/^\{"status":"error","code":"SERVICE_UNAVAILABLE",.*"data":\{"status":"down","services":\{"auth":\{"status":"down","circuit":"open",/]



=== TEST 18: a circuit half-open (its open time over): degraded while it is tried again
--- http_config
    flores_breaker_zone zone=breakers:64k;
    flores_breaker_profile quick consecutive=2 open=1s;
--- config
    location = /health {
        flores_health;
        flores_health_check auth /_health/auth/health critical;
        flores_health_check cart /_health/cart/health;
    }

    location /api/cart/ {
        flores_service cart;
        flores_breaker zone=breakers profile=quick;
        rewrite ^ /health-500 break;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }
--- init
::http_get('/api/cart/1');
::http_get('/api/cart/2');
select undef, undef, undef, 1.3;
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"cart":{"status":"up","circuit":"half_open","latencyMs":N}}}}



=== TEST 19: a bad service name
--- config
    location = /health { flores_health; flores_health_check "auth service" /x; }
--- must_die
--- error_log
invalid service name "auth service": only [A-Za-z0-9._-] allowed



=== TEST 20: a service name too long
--- config
    location = /health { flores_health; flores_health_check abcdefghijabcdefghijabcdefghijabc /x; }
--- must_die
--- error_log
invalid service name "abcdefghijabcdefghijabcdefghijabc": 1 to 32 characters expected



=== TEST 21: a uri that is not a path
--- config
    location = /health { flores_health; flores_health_check auth http://127.0.0.1/health; }
--- must_die
--- error_log
invalid uri "http://127.0.0.1/health": it must start with "/"



=== TEST 22: a service checked twice
--- config
    location = /health {
        flores_health;
        flores_health_check auth /a;
        flores_health_check auth /b;
    }
--- must_die
--- error_log
service "auth" is already checked



=== TEST 23: an unknown third parameter
--- config
    location = /health { flores_health; flores_health_check auth /a vital; }
--- must_die
--- error_log
invalid parameter "vital"



=== TEST 24: flores_health twice
--- config
    location = /health { flores_health; flores_health; }
--- must_die
--- error_log
"flores_health" directive is duplicate



=== TEST 25: flores_health takes no parameter
--- config
    location = /health { flores_health on; }
--- must_die
--- error_log
invalid number of arguments in "flores_health" directive



=== TEST 26: the shipped health.conf: auth and user (the critical ones) up, every other service unreachable: degraded
--- post_setup_server_root
for my $f (qw(health.conf fastcgi_flores.conf errors.conf)) {
    symlink "$ENV{TEST_NGINX_FLORES_CONF}/$f", "$Test::Nginx::Util::ConfDir/$f"
        or die "symlink $f: $!";
}
--- http_config
    map $https $flores_hsts { default ""; }    # flores-http.conf's (errors.conf adds HSTS)
    upstream flores_auth     { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_product  { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_user     { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_order    { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_cart     { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_wishlist { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_review   { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_contact  { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    include errors.conf;
    include health.conf;
--- more_headers
X-Request-ID: shipped-1
--- response_headers
X-Request-ID: shipped-1
--- response_body_filters eval
\&::latency
--- response_body chomp
{"status":"success","data":{"status":"degraded","services":{"auth":{"status":"up","circuit":"closed","latencyMs":N},"product":{"status":"down","circuit":"closed","latencyMs":N},"user":{"status":"up","circuit":"closed","latencyMs":N},"order":{"status":"down","circuit":"closed","latencyMs":N},"cart":{"status":"down","circuit":"closed","latencyMs":N},"wishlist":{"status":"down","circuit":"closed","latencyMs":N},"review":{"status":"down","circuit":"closed","latencyMs":N},"contact":{"status":"down","circuit":"closed","latencyMs":N}}}}



=== TEST 27: the shipped health.conf: auth unreachable too: down, 503; the checks are not public
--- post_setup_server_root
for my $f (qw(health.conf fastcgi_flores.conf errors.conf)) {
    symlink "$ENV{TEST_NGINX_FLORES_CONF}/$f", "$Test::Nginx::Util::ConfDir/$f"
        or die "symlink $f: $!";
}
--- http_config
    map $https $flores_hsts { default ""; }    # flores-http.conf's (errors.conf adds HSTS)
    upstream flores_auth     { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_product  { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_user     { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_order    { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_cart     { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_wishlist { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_review   { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_contact  { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    include errors.conf;
    include health.conf;
--- request eval
["GET /health", "GET /_health/product"]
--- error_code eval
[503, 404]
--- response_body_like eval
[qr/^\{"status":"error","code":"SERVICE_UNAVAILABLE","message":"El servicio no está disponible","requestId":"[0-9a-f]{32}","data":\{"status":"down","services":\{"auth":\{"status":"down","circuit":"closed","latencyMs":\d+\},"product":\{"status":"up",/,
 qr/"code":"NOT_FOUND"/]



=== TEST 28: the shipped health.conf: user unreachable, everything else up: down, 503
--- post_setup_server_root
for my $f (qw(health.conf fastcgi_flores.conf errors.conf)) {
    symlink "$ENV{TEST_NGINX_FLORES_CONF}/$f", "$Test::Nginx::Util::ConfDir/$f"
        or die "symlink $f: $!";
}
--- http_config
    map $https $flores_hsts { default ""; }    # flores-http.conf's (errors.conf adds HSTS)
    upstream flores_auth     { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_product  { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_user     { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream flores_order    { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_cart     { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_wishlist { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_review   { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
    upstream flores_contact  { server 127.0.0.1:$TEST_NGINX_FCGI_PORT; }
--- config
    include errors.conf;
    include health.conf;
--- request
GET /health
--- error_code: 503
--- response_body_like eval
qr/^\{"status":"error","code":"SERVICE_UNAVAILABLE",.*"data":\{"status":"down","services":\{"auth":\{"status":"up",.*"user":\{"status":"down",/
