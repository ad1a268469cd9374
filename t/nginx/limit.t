# limit.t: flores_limit_zone / flores_limit. Zones live in shared memory, so
# the limits hold exactly across two workers and parallel clients: a zone of
# N per window with burst B lets N + B through at once and refuses the rest
# with 429 in the JSend envelope, Retry-After and the RateLimit headers;
# keys isolate callers; failures-only limits count only the chosen answers;
# dry-run limits only log and count; several limits on a location must all
# pass; a reload keeps the state; a full zone evicts its least recently used
# keys rather than refusing new ones.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
workers(2);

# Connections go to either worker by the hash of their ports, not to
# whichever wakes first: both workers serve part of every load below.
$Test::Nginx::Util::ReusePort = 1;

my $now = time;
my $secret = 'r' x 40;

key_dir();
write_secret('hs.key', $secret);

sub token {
    my ($sub) = @_;
    return jwt(key => $secret,
               claims => { sub => $sub, role => 'customer',
                           iss => 'flores-victoria', aud => 'flores-victoria-api',
                           iat => $now, exp => $now + 600 });
}

our %T = (ana => token('42'), bruno => token('43'));

# $clients parallel clients, started together, each sending $each requests
# for $path (one connection per request, extra header lines in $headers).
# Returns one hash per answer: status, worker, retry (Retry-After),
# ratelimit (RateLimit), body.
sub hammer {
    my ($clients, $each, $path, $headers) = @_;
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";
    pipe my $go_r, my $go_w or die "pipe: $!";

    for (1 .. $clients) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;
            close $go_w;

            # every client waits here until all exist
            my $start = <$go_r>;

            for (1 .. $each) {
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port)
                    or POSIX::_exit(1);
                print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n"
                           . ($headers // '') . "\r\n";
                local $/;
                my $answer = <$s> // '';
                my ($head, $body) = split /\r\n\r\n/, $answer, 2;
                $head //= '';
                my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
                my ($worker) = $head =~ /^X-Worker: (\d+)/mi;
                my ($retry) = $head =~ /^Retry-After: ([^\r\n]*)/mi;
                my ($rl) = $head =~ /^RateLimit: ([^\r\n]*)/mi;
                $body //= '';
                $body =~ s/[\t\n]//g;
                syswrite $w, join("\t", $status // 0, $worker // '',
                                  $retry // '', $rl // '', $body) . "\n";
            }

            # not exit(): Test::Nginx's END blocks must not run here
            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    close $w;
    close $go_r;
    close $go_w;

    my @out;

    while (my $line = <$r>) {
        chomp $line;
        my %a;
        @a{qw(status worker retry ratelimit body)} = split /\t/, $line, -1;
        push @out, \%a;
    }

    waitpid $_, 0 for @kids;

    return @out;
}

# One request on its own connection; returns the status and the raw head.
sub one {
    my ($path, $headers) = @_;
    my ($a) = hammer(1, 1, $path, $headers);
    return $a;
}

sub count { my ($status, @a) = @_; scalar grep { $_->{status} == $status } @a }

sub workers_seen { my %w = map { $_->{worker} => 1 } grep { $_->{worker} } @_; scalar keys %w }

sub hup {
    my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
    chomp $pid;
    kill 'HUP', $pid or die "HUP $pid: $!";
    # the old workers finish, the new ones answer
    sleep 1;
}

# The scrape, reduced to the rate-limit series that are not zero.
sub limit_series {
    my $text = shift;
    return join '', map { "$_\n" }
        grep { /^flores_gateway_ratelimit_/ && !/ 0$/ } split /\n/, $text;
}

my $http_config = <<'_EOC_';
    flores_limit_zone key=$binary_remote_addr zone=burst:1m rate=30r/h burst=5;
    flores_limit_zone key=$binary_remote_addr zone=two:1m rate=2r/m;
    flores_limit_zone key=$binary_remote_addr zone=five:1m rate=5r/h;
    flores_limit_zone key=$binary_remote_addr zone=three:1m rate=3r/h;
    flores_limit_zone key=$http_x_user zone=user:1m rate=2r/h;
    flores_limit_zone key=$flores_jwt_sub zone=sub:1m rate=2r/h;
    flores_limit_zone key=$binary_remote_addr$flores_limit_json_email
                      zone=login:1m rate=3r/h;
    flores_limit_zone key=$binary_remote_addr zone=dry:1m rate=1r/h;
    flores_limit_zone key=$http_x_user zone=small:32k rate=1r/h;
    flores_limit_zone key=$binary_remote_addr zone=fast:1m rate=2r/s;

    flores_metrics_zone zone=metrics:1m;

    # the service behind the gateway
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 200 "ok\n";
        }

        location /401 {
            return 401 "wrong password\n";
        }

        location /403 {
            return 403 "forbidden\n";
        }

        location /404 {
            return 404 "not found\n";
        }
    }
_EOC_

my $config = <<'_EOC_';
    add_header X-Worker $pid always;
    add_header X-Limit $flores_limit_result always;

    location = /metrics {
        flores_metrics;
    }

    location /burst/ {
        flores_limit zone=burst;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /two/ {
        flores_limit zone=two;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /quiet/ {
        flores_limit zone=two;
        flores_limit_headers off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /user/ {
        flores_limit zone=user;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /me/ {
        flores_jwt optional;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
        flores_jwt_issuer flores-victoria;
        flores_jwt_audience flores-victoria-api;
        flores_limit zone=sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /login/ {
        flores_limit zone=login status=401;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /dry/ {
        flores_limit zone=dry dry_run;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /both/ {
        flores_limit zone=five;
        flores_limit zone=three;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /five/ {
        flores_limit zone=five;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;

        location /five/free/ {
            flores_limit off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        }
    }

    # a 404 from the service is replaced by the answer of another location
    # that has the same limit: the request is still limited once
    location /redirect/ {
        flores_limit zone=five;
        proxy_intercept_errors on;
        error_page 404 = /five/ok;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /small/ {
        flores_limit zone=small;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location /fast/ {
        flores_limit zone=fast;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

run_tests();

__DATA__

=== TEST 1: 2 workers, 20 parallel clients, 80 requests: exactly N + burst pass (30 per hour, burst 5)
--- init
my @a = ::hammer(20, 4, '/burst/x');
Test::More::is(scalar @a, 80, 'every request answered');
Test::More::is(::workers_seen(@a), 2, 'both workers answered');
Test::More::is(::count(200, @a), 35, '35 passed');
Test::More::is(::count(429, @a), 45, 'the other 45 refused');
# each request admitted saw its own remaining count: none was counted twice
my @r = sort { $a <=> $b } map { $_->{ratelimit} =~ /;r=(\d+);/ ? $1 : -1 } grep { $_->{status} == 200 } @a;
Test::More::is("@r", join(' ', 0 .. 34), 'remaining 34 down to 0, once each');
# T = 120 s: the next request is admitted 120 s after the burst
# (or 121 s: a worker's cached clock may lag the other's by a few ms)
my @late = grep { $_->{status} == 429 && $_->{retry} !~ /^12[01]$/ } @a;
Test::More::is(scalar @late, 0, 'Retry-After: 120 on every refusal');
--- request
GET /metrics
--- response_body_filters eval
\&::limit_series
--- response_body
flores_gateway_ratelimit_requests_total{zone="burst",result="passed"} 35
flores_gateway_ratelimit_requests_total{zone="burst",result="rejected"} 45
flores_gateway_ratelimit_rejections_total{zone="burst",mode="enforce"} 45
flores_gateway_ratelimit_keys{zone="burst"} 1



=== TEST 2: the RateLimit headers on allowed answers, then the 429 with Retry-After and the envelope
--- request eval
["GET /two/a", "GET /two/b", "GET /two/c"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"two\";q=2;w=60\nRateLimit: \"two\";r=1;t=30\n!Retry-After\nX-Limit: passed",
 "RateLimit-Policy: \"two\";q=2;w=60\nRateLimit: \"two\";r=0;t=60\n!Retry-After\nX-Limit: passed",
 "RateLimit-Policy: \"two\";q=2;w=60\nRateLimit: \"two\";r=0;t=60\nRetry-After: 30\nContent-Type: application/json\nX-Limit: rejected:two"]
--- response_body_like eval
["^ok\n\$", "^ok\n\$",
 qr/^\{"status":"fail","code":"RATE_LIMITED","message":"Demasiadas solicitudes, intenta nuevamente más tarde","requestId":"[0-9a-f]{32}"\}$/]



=== TEST 3: flores_limit_headers off: no RateLimit headers, still Retry-After on the 429
--- request eval
["GET /quiet/a", "GET /quiet/b", "GET /quiet/c"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["!RateLimit-Policy\n!RateLimit", "!RateLimit", "!RateLimit-Policy\n!RateLimit\nRetry-After: 30"]



=== TEST 4: the key is evaluated per request: users apart, no key means no limit
--- request eval
["GET /user/a", "GET /user/a", "GET /user/a", "GET /user/a", "GET /user/a", "GET /user/a", "GET /user/a"]
--- more_headers eval
["X-User: ana", "X-User: ana", "X-User: ana", "X-User: bruno", "X-User: bruno", "X-User:", "X-Other: 1"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 200]
--- response_headers eval
["RateLimit: \"user\";r=1;t=1800", "RateLimit: \"user\";r=0;t=3600", "X-Limit: rejected:user",
 "RateLimit: \"user\";r=1;t=1800\nX-Limit: passed", "RateLimit: \"user\";r=0;t=3600",
 "!RateLimit\nX-Limit: ", "!RateLimit\nX-Limit: "]



=== TEST 5: keyed by the verified user id ($flores_jwt_sub): the limiter runs after the JWT check
--- request eval
["GET /me/a", "GET /me/a", "GET /me/a", "GET /me/a", "GET /me/a", "GET /me/a"]
--- more_headers eval
["Authorization: Bearer $::T{ana}", "Authorization: Bearer $::T{ana}", "Authorization: Bearer $::T{ana}",
 "Authorization: Bearer $::T{bruno}", "", ""]
--- error_code eval
[200, 200, 429, 200, 200, 200]
--- response_headers eval
["RateLimit: \"sub\";r=1;t=1800", "RateLimit: \"sub\";r=0;t=3600", "Retry-After: 1800",
 "RateLimit: \"sub\";r=1;t=1800", "!RateLimit", "!RateLimit"]



=== TEST 6: failures-only (status=401): successes never count, each 401 does, then even the right password waits
--- request eval
["POST /login/ok\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/ok\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/ok\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/ok\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/403\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/401\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/401\n{\"email\":\"Ana\@Example.CL \"}",
 "POST /login/401\n{\"password\":\"x\",\"email\":\"ana\@example.cl\"}",
 "POST /login/ok\n{\"email\":\"ana\@example.cl\"}",
 "POST /login/401\n{\"email\":\"bruno\@example.cl\"}",
 "POST /login/ok\n{\"email\":\"bruno\@example.cl\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200, 200, 403, 401, 401, 401, 429, 401, 200]
--- response_headers eval
["RateLimit: \"login\";r=3;t=0", "RateLimit: \"login\";r=3;t=0", "RateLimit: \"login\";r=3;t=0",
 "RateLimit: \"login\";r=3;t=0", "RateLimit: \"login\";r=3;t=0",
 "RateLimit: \"login\";r=2;t=1200", "RateLimit: \"login\";r=1;t=2400", "RateLimit: \"login\";r=0;t=3600",
 "Retry-After: 1200\nX-Limit: rejected:login",
 "RateLimit: \"login\";r=2;t=1200", "RateLimit: \"login\";r=2;t=1200"]



=== TEST 7: failures-only counters: three failures counted, one refusal
--- init
for my $path ('/login/401', '/login/401', '/login/ok', '/login/401', '/login/ok') {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient) or die;
    my $body = '{"email":"carla@example.cl"}';
    print {$s} "POST $path HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    my $answer = <$s>;
}
--- request
GET /metrics
--- response_body_filters eval
\&::limit_series
--- response_body
flores_gateway_ratelimit_requests_total{zone="login",result="passed"} 4
flores_gateway_ratelimit_requests_total{zone="login",result="rejected"} 1
flores_gateway_ratelimit_rejections_total{zone="login",mode="enforce"} 1
flores_gateway_ratelimit_failures_total{zone="login"} 3
flores_gateway_ratelimit_keys{zone="login"} 1



=== TEST 8: dry_run never refuses; it logs and counts what it would have refused, and sends no headers
--- init
my @a = ::hammer(4, 3, '/dry/x');
Test::More::is(::count(200, @a), 12, 'all 12 passed');
Test::More::is(scalar(grep { $_->{ratelimit} eq '' } @a), 12, 'no RateLimit header');
--- request
GET /metrics
--- response_body_filters eval
\&::limit_series
--- response_body
flores_gateway_ratelimit_requests_total{zone="dry",result="passed"} 1
flores_gateway_ratelimit_requests_total{zone="dry",result="dry_run"} 11
flores_gateway_ratelimit_rejections_total{zone="dry",mode="dry_run"} 11
flores_gateway_ratelimit_keys{zone="dry"} 1
--- error_log
flores limit: request over the limit of zone "dry", dry run



=== TEST 9: $flores_limit_result tells dry-run overruns apart
--- request eval
["GET /dry/a", "GET /dry/b"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Limit: passed\n!RateLimit", "X-Limit: dry_run:dry\n!RateLimit"]



=== TEST 10: several limits on a location all apply; the most restrictive is reported; a refusal pays nothing
--- request eval
["GET /both/a", "GET /both/a", "GET /both/a", "GET /both/a", "GET /five/a", "GET /five/a", "GET /five/a"]
--- error_code eval
[200, 200, 200, 429, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"three\";q=3;w=3600\nRateLimit: \"three\";r=2;t=1200",
 "RateLimit: \"three\";r=1;t=2400",
 "RateLimit: \"three\";r=0;t=3600",
 "RateLimit: \"three\";r=0;t=3600\nRetry-After: 1200\nX-Limit: rejected:three",
 "RateLimit-Policy: \"five\";q=5;w=3600\nRateLimit: \"five\";r=1;t=2880",
 "RateLimit: \"five\";r=0;t=3600",
 "Retry-After: 720"]



=== TEST 11: an internal redirect to a location with the same limit counts once; "flores_limit off" lifts an inherited limit
--- request eval
["GET /redirect/404", "GET /five/free/a", "GET /five/a"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["RateLimit: \"five\";r=4;t=720\nX-Limit: passed", "!RateLimit\nX-Limit: ", "RateLimit: \"five\";r=3;t=1440"]



=== TEST 12: a reload (HUP) keeps every key's state
--- init
my @a = ::hammer(2, 1, '/five/x');
Test::More::is(::count(200, @a), 2, 'two passed before the reload');
my $before = $a[0]{worker};
::hup();
my $after = ::one('/metrics');
Test::More::isnt($after->{worker}, $before, 'new workers answer after the reload');
--- request eval
["GET /five/a", "GET /five/a", "GET /five/a", "GET /five/a"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers_like eval
["RateLimit: \"five\";r=2;t=2\\d{3}", "RateLimit: \"five\";r=1;t=2\\d{3}", "RateLimit: \"five\";r=0;t=3\\d{3}",
 "Retry-After: 7\\d\\d"]



=== TEST 13: a zone too small for its keys evicts the least recently used ones: new keys are always served
--- init
my @a = map { ::one('/small/x', "X-User: user-$_\r\n") } 1 .. 400;
Test::More::is(::count(200, @a), 400, 'each of 400 new keys passed');
# the newest key still has its state; the oldest was evicted and starts again
Test::More::is(::one('/small/x', "X-User: user-400\r\n")->{status}, 429, 'a recent key is still limited');
Test::More::is(::one('/small/x', "X-User: user-1\r\n")->{status}, 200, 'the oldest key was forgotten');
--- request
GET /metrics
--- response_body_like
flores_gateway_ratelimit_evictions_total\{zone="small"\} [1-9]\d*
--- no_error_log
[alert]
[emerg]
[error]



=== TEST 14: the allowance refills continuously (2 per second: one more every 0.5 s)
--- init
my @a = map { ::one('/fast/x') } 1 .. 3;
Test::More::is(join(',', map { $_->{status} } @a), '200,200,429', 'two at once, the third refused');
select undef, undef, undef, 0.6;
Test::More::is(::one('/fast/x')->{status}, 200, 'one more after 0.5 s');
Test::More::is(::one('/fast/x')->{status}, 429, 'and only one');
--- request
GET /metrics
--- response_body_filters eval
\&::limit_series
--- response_body
flores_gateway_ratelimit_requests_total{zone="fast",result="passed"} 3
flores_gateway_ratelimit_requests_total{zone="fast",result="rejected"} 2
flores_gateway_ratelimit_rejections_total{zone="fast",mode="enforce"} 2
flores_gateway_ratelimit_keys{zone="fast"} 1



=== TEST 15: a key from the JSON body when the body arrives after the headers (the limiter waits for it)
--- init
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $Test::Nginx::Util::ServerPortForClient) or die;
my $body = '{"email":"late@x.cl"}';
print {$s} "POST /login/401 HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
local $/;
my $answer = <$s>;
--- raw_request eval
["POST /login/401 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n",
 "{\"email\":\"Late\@X.cl\"}"]
--- raw_request_middle_delay: 0.3
--- error_code: 401
--- response_headers
RateLimit: "login";r=1;t=2400
X-Limit: passed
--- response_body
wrong password



=== TEST 16: a body that is not JSON gives an empty email: the key is the address alone
--- request eval
["POST /login/401\nnot json", "POST /login/401\n{\"email\":7}", "POST /login/401\n{\"email\":\"ana\@x.cl\"}"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["RateLimit: \"login\";r=2;t=1200", "RateLimit: \"login\";r=1;t=2400", "RateLimit: \"login\";r=2;t=1200"]
