# metrics.t: flores_metrics_zone counts every request once, in the shared
# zone, so that counts made by two workers add up exactly; the series are
# per service (flores_service) and status class, latency histograms are
# consistent with the request counts, token refusals are counted by reason,
# and neither scrapes nor excluded locations are counted.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;
use Flores::FastCGI;

master_on();
workers(2);

# Connections go to either worker by the hash of their ports, not to
# whichever wakes first: both workers serve part of every load below.
$Test::Nginx::Util::ReusePort = 1;

$ENV{TEST_NGINX_FLORES_CONF} = "$FindBin::Bin/../../conf/nginx";

my $now = time;
my $secret = 'm' x 40;

key_dir();
write_secret('hs.key', $secret);

my %claims = (sub => '7', role => 'customer', iss => 'flores-victoria',
              aud => 'flores-victoria-api', iat => $now, exp => $now + 600);

sub token { my (%c) = @_; jwt(key => $secret, claims => { %claims, %c }) }

our %T = (
    good          => token(),
    signature     => jwt(key => 'x' x 40, claims => \%claims),
    algorithm     => jwt(alg => 'HS512', key => $secret, claims => \%claims),
    expired       => token(iat => $now - 7200, exp => $now - 3600),
    not_yet_valid => token(nbf => $now + 3600),
    issuer        => token(iss => 'someone-else'),
    audience      => token(aud => 'another-api'),
    role          => token(role => 'florist'),
);

# The services: /contact/ takes its time (0.3 s), others answer at once.
my $fcgi = Flores::FastCGI->start(sub {
    my $params = shift;
    select undef, undef, undef, 0.3 if $params->{DOCUMENT_URI} =~ m{^/contact/};
    return (200, {}, qq({"status":"success","data":{}}));
});

$ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;

# $n requests per path from each of $clients parallel clients, each request
# on a new connection; returns how many workers answered.
sub load {
    my ($clients, %paths) = @_;
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";

    for (1 .. $clients) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;

            for my $path (sort keys %paths) {
                for (1 .. $paths{$path}) {
                    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                                  PeerPort => $port)
                        or POSIX::_exit(1);
                    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
                    local $/;
                    my $answer = <$s> // '';
                    my ($worker) = $answer =~ /^X-Worker: (\d+)/mi;
                    syswrite $w, "$worker\n" if $worker;
                }
            }

            # not exit(): Test::Nginx's END blocks must not run here
            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    close $w;

    my %workers;
    while (my $line = <$r>) { chomp $line; $workers{$line}++ }

    waitpid $_, 0 for @kids;

    return scalar keys %workers;
}

# The scrape, reduced to what the tests can know exactly: request and
# refusal counters that are not zero, histogram counts that are not zero,
# and any histogram whose buckets are not cumulative or do not end in its
# count.
sub summary {
    my $text = shift;
    my (@out, %hist, @order);

    for my $line (split /\n/, $text) {
        next if $line =~ /^#/;

        my ($name, $labels, $value) = $line =~ /^(\w+)(?:\{(.*)\})? (\S+)$/
            or return "bad line: $line\n";

        if ($name =~ /^flores_gateway_(?:requests|jwt_rejections)_total$/) {
            push @out, $line if $value != 0;

        } elsif ($name =~ /^(flores_gateway_\w+_duration_seconds)_(bucket|sum|count)$/) {
            my ($h, $part) = ($1, $2);
            (my $service = $labels) =~ s/,le="[^"]*"//;
            my $key = "$h\{$service\}";
            push @order, $key unless $hist{$key};
            $hist{$key}{$part} = [] unless $hist{$key}{$part};
            push @{ $hist{$key}{$part} }, $value;
            push @out, $line if $part eq 'count' && $value != 0;
        }
    }

    for my $key (@order) {
        my $b = $hist{$key}{bucket} || [];
        push @out, "$key: " . @$b . " buckets" if @$b != 12;
        push @out, "$key: not cumulative"
            if grep { $b->[$_] < $b->[$_ - 1] } 1 .. $#$b;
        push @out, "$key: +Inf is not the count"
            if @$b && $b->[-1] != $hist{$key}{count}[0];
    }

    return join '', map { "$_\n" } @out;
}

my $config = <<'_EOC_';
    add_header X-Worker $pid always;

    location = /metrics {
        flores_metrics;
    }

    location /auth/ {
        flores_service auth;
        return 200 "ok\n";
    }

    location /product/ {
        flores_service product;
        return 404;
    }

    location /order/ {
        flores_service order;
        return 500;
    }

    location /cart/ {
        flores_service cart;
        return 302 /elsewhere;
    }

    location /wishlist/ {
        flores_service wishlist;
        return 200 "ok\n";

        location /wishlist/private/ {
            flores_metrics_exclude on;
            return 200 "ok\n";
        }
    }

    # a service that is down: 502, turned into 503 in a location of no service
    location /review/ {
        flores_service review;
        error_page 502 =503 @down;
        proxy_connect_timeout 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location @down {
        return 503 "down\n";
    }

    location /user/ {
        flores_service user;
        flores_jwt on;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
        flores_jwt_issuer flores-victoria;
        flores_jwt_audience flores-victoria-api;
        flores_jwt_require_role customer admin;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /contact/ {
        flores_service contact;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /elsewhere {
        return 200 "no service\n";
    }
_EOC_

default_blocks(
    http_config => "    flores_metrics_zone zone=metrics:1m;\n",
    config      => $config,
    request     => "GET /metrics\n",
);

run_tests();

__DATA__

=== TEST 1: counts made by both workers add up exactly, by service and status class
--- init
my $workers = ::load(4, '/auth/a' => 50, '/product/p' => 10, '/order/o' => 5,
                     '/cart/c' => 5, '/elsewhere' => 3);
Test::More::is($workers, 2, 'both workers answered');
--- response_body_filters eval
\&::summary
--- response_body
flores_gateway_requests_total{service="gateway",code_class="2xx"} 12
flores_gateway_requests_total{service="auth",code_class="2xx"} 200
flores_gateway_requests_total{service="product",code_class="4xx"} 40
flores_gateway_requests_total{service="order",code_class="5xx"} 20
flores_gateway_requests_total{service="cart",code_class="3xx"} 20
flores_gateway_request_duration_seconds_count{service="gateway"} 12
flores_gateway_request_duration_seconds_count{service="auth"} 200
flores_gateway_request_duration_seconds_count{service="product"} 40
flores_gateway_request_duration_seconds_count{service="order"} 20
flores_gateway_request_duration_seconds_count{service="cart"} 20



=== TEST 2: a fresh zone shows every series at zero, in the Prometheus text format
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
qr{\A# HELP flores_gateway_requests_total [^\n]+
# TYPE flores_gateway_requests_total counter
flores_gateway_requests_total\{service="gateway",code_class="1xx"\} 0
flores_gateway_requests_total\{service="gateway",code_class="2xx"\} 0
flores_gateway_requests_total\{service="gateway",code_class="3xx"\} 0
flores_gateway_requests_total\{service="gateway",code_class="4xx"\} 0
flores_gateway_requests_total\{service="gateway",code_class="5xx"\} 0
flores_gateway_requests_total\{service="auth",code_class="1xx"\} 0
.*
# TYPE flores_gateway_request_duration_seconds histogram
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.005"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.01"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.025"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.05"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.1"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.25"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="0.5"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="1"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="2.5"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="5"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="10"\} 0
flores_gateway_request_duration_seconds_bucket\{service="gateway",le="\+Inf"\} 0
flores_gateway_request_duration_seconds_sum\{service="gateway"\} 0.000
flores_gateway_request_duration_seconds_count\{service="gateway"\} 0
.*
# TYPE flores_gateway_upstream_duration_seconds histogram
.*
# TYPE flores_gateway_jwt_rejections_total counter
flores_gateway_jwt_rejections_total\{reason="missing"\} 0
flores_gateway_jwt_rejections_total\{reason="malformed"\} 0
flores_gateway_jwt_rejections_total\{reason="signature"\} 0
flores_gateway_jwt_rejections_total\{reason="algorithm"\} 0
flores_gateway_jwt_rejections_total\{reason="expired"\} 0
flores_gateway_jwt_rejections_total\{reason="not_yet_valid"\} 0
flores_gateway_jwt_rejections_total\{reason="issuer"\} 0
flores_gateway_jwt_rejections_total\{reason="audience"\} 0
flores_gateway_jwt_rejections_total\{reason="role"\} 0
flores_gateway_jwt_rejections_total\{reason="key"\} 0
flores_gateway_jwt_rejections_total\{reason="revoked"\} 0
}s



=== TEST 3: every service named by flores_service has its series, even before its first request
--- response_body_filters eval
sub { my %s = $_[0] =~ /^flores_gateway_requests_total\{service="(\w+)",code_class="5xx"\} (\d+)$/mg;
      CORE::join ' ', map { "$_=$s{$_}" } sort keys %s }
--- response_body chomp
auth=0 cart=0 contact=0 gateway=0 order=0 product=0 review=0 user=0 wishlist=0



=== TEST 4: scrapes are not counted
--- request eval
["GET /metrics", "GET /metrics", "GET /metrics"]
--- response_body_filters eval
\&::summary
--- response_body eval
["", "", ""]



=== TEST 5: an excluded location is not counted; nested locations of a counted one are
--- init
::load(2, '/wishlist/w' => 3, '/wishlist/private/x' => 4);
--- response_body_filters eval
\&::summary
--- response_body
flores_gateway_requests_total{service="wishlist",code_class="2xx"} 6
flores_gateway_request_duration_seconds_count{service="wishlist"} 6



=== TEST 6: token refusals are counted by reason; an accepted token is not a refusal
--- request eval
["GET /user/x", "GET /user/x", "GET /user/x", "GET /user/x", "GET /user/x",
 "GET /user/x", "GET /user/x", "GET /user/x", "GET /user/x", "GET /user/x",
 "GET /user/x", "GET /metrics"]
--- more_headers eval
["",
 "Authorization: Bearer abc",
 "Authorization: Bearer $::T{signature}",
 "Authorization: Bearer $::T{algorithm}",
 "Authorization: Bearer $::T{expired}",
 "Authorization: Bearer $::T{not_yet_valid}",
 "Authorization: Bearer $::T{issuer}",
 "Authorization: Bearer $::T{audience}",
 "Authorization: Bearer $::T{role}",
 "Authorization: Bearer $::T{expired}",
 "Authorization: Bearer $::T{good}",
 ""]
--- error_code eval
[401, 401, 401, 401, 401, 401, 401, 401, 403, 401, 200, 200]
--- response_body_filters eval
[([sub { '' }]) x 11, [\&::summary]]
--- response_body eval
[("") x 11, <<'_EOB_']
flores_gateway_requests_total{service="user",code_class="2xx"} 1
flores_gateway_requests_total{service="user",code_class="4xx"} 10
flores_gateway_request_duration_seconds_count{service="user"} 11
flores_gateway_upstream_duration_seconds_count{service="user"} 1
flores_gateway_jwt_rejections_total{reason="missing"} 1
flores_gateway_jwt_rejections_total{reason="malformed"} 1
flores_gateway_jwt_rejections_total{reason="signature"} 1
flores_gateway_jwt_rejections_total{reason="algorithm"} 1
flores_gateway_jwt_rejections_total{reason="expired"} 2
flores_gateway_jwt_rejections_total{reason="not_yet_valid"} 1
flores_gateway_jwt_rejections_total{reason="issuer"} 1
flores_gateway_jwt_rejections_total{reason="audience"} 1
flores_gateway_jwt_rejections_total{reason="role"} 1
_EOB_



=== TEST 7: a service that is down counts as that service's 5xx, though a named location answered
--- request eval
["GET /review/r", "GET /metrics"]
--- error_code eval
[503, 200]
--- response_body_filters eval
[[sub { '' }], [\&::summary]]
--- response_body eval
["", <<'_EOB_']
flores_gateway_requests_total{service="review",code_class="5xx"} 1
flores_gateway_request_duration_seconds_count{service="review"} 1
flores_gateway_upstream_duration_seconds_count{service="review"} 1
_EOB_



=== TEST 8: service time lands in the right buckets of both histograms (a 0.3 s service)
--- request eval
["GET /contact/c", "GET /contact/c", "GET /metrics"]
--- response_body_like eval
[qr/success/, qr/success/,
 qr/^flores_gateway_request_duration_seconds_bucket\{service="contact",le="0.25"\} 0
flores_gateway_request_duration_seconds_bucket\{service="contact",le="0.5"\} 2
.*^flores_gateway_request_duration_seconds_sum\{service="contact"\} 0\.[67]\d\d
flores_gateway_request_duration_seconds_count\{service="contact"\} 2
.*^flores_gateway_upstream_duration_seconds_bucket\{service="contact",le="0.25"\} 0
flores_gateway_upstream_duration_seconds_bucket\{service="contact",le="0.5"\} 2
.*^flores_gateway_upstream_duration_seconds_sum\{service="contact"\} 0\.[67]\d\d
flores_gateway_upstream_duration_seconds_count\{service="contact"\} 2
/ms]
--- timeout: 5



=== TEST 9: requests that no service handled, and those that never reached a service
--- request eval
["GET /elsewhere", "GET /nowhere", "GET /auth/a", "GET /metrics"]
--- error_code eval
[200, 404, 200, 200]
--- response_body_filters eval
[([sub { '' }]) x 3, [\&::summary]]
--- response_body eval
[("") x 3, <<'_EOB_']
flores_gateway_requests_total{service="gateway",code_class="2xx"} 1
flores_gateway_requests_total{service="gateway",code_class="4xx"} 1
flores_gateway_requests_total{service="auth",code_class="2xx"} 1
flores_gateway_request_duration_seconds_count{service="gateway"} 2
flores_gateway_request_duration_seconds_count{service="auth"} 1
_EOB_
--- no_error_log
[alert]
[emerg]



=== TEST 10: counts survive a reload (nginx -s reload keeps the zone)
--- init
::load(2, '/auth/a' => 5);
my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
kill 'HUP', $pid or die "HUP $pid: $!";
# the new workers are there when a request is answered by a new pid
sleep 1;
::load(2, '/auth/a' => 5);
--- response_body_filters eval
\&::summary
--- response_body
flores_gateway_requests_total{service="auth",code_class="2xx"} 20
flores_gateway_request_duration_seconds_count{service="auth"} 20



=== TEST 11: a reload that adds a service: the others' counts go on, the new one starts at zero
--- init
::load(2, '/auth/a' => 5);
my $conf = do { local (@ARGV, $/) = ($Test::Nginx::Util::ConfFile); <> };
$conf =~ s{(location /auth/ \{)}{location /added/ { flores_service added; return 200 "added\\n"; }\n    $1}
    or die "no /auth/ location in the configuration";
open my $fh, '>', $Test::Nginx::Util::ConfFile or die "$!";
print {$fh} $conf;
close $fh;
my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
kill 'HUP', $pid or die "HUP $pid: $!";
sleep 1;
::load(2, '/added/x' => 3, '/auth/a' => 1);
--- response_body_filters eval
\&::summary
--- response_body
flores_gateway_requests_total{service="added",code_class="2xx"} 6
flores_gateway_requests_total{service="auth",code_class="2xx"} 12
flores_gateway_request_duration_seconds_count{service="added"} 6
flores_gateway_request_duration_seconds_count{service="auth"} 12



=== TEST 12: a service named "gateway" is the same series as requests of no service
--- config
    location = /metrics { flores_metrics; }
    location /gw/ { flores_service gateway; return 200; }
    location /none/ { return 200; }
--- request eval
["GET /gw/", "GET /none/", "GET /metrics"]
--- response_body_filters eval
[([sub { '' }]) x 2, [\&::summary]]
--- response_body eval
[("") x 2, <<'_EOB_']
flores_gateway_requests_total{service="gateway",code_class="2xx"} 2
flores_gateway_request_duration_seconds_count{service="gateway"} 2
_EOB_



=== TEST 13: only GET and HEAD
--- request eval
["HEAD /metrics", "POST /metrics\nx=1", "DELETE /metrics"]
--- error_code eval
[200, 405, 405]
--- response_body_like eval
["^\$", "405 Not Allowed", "405 Not Allowed"]



=== TEST 14: without flores_metrics_zone nothing is counted and nothing breaks
--- http_config
--- config
    location /auth/ { flores_service auth; return 200 "ok\n"; }
--- request
GET /auth/a
--- response_body
ok
