# limit_tiers.t: the shipped tiers (conf/nginx/limits.conf) with the lines the
# service locations use. Each caller falls into one tier: anonymous callers
# by address (public), customers by user id (authenticated), administrators
# by user id (admin); searches add the search tier. Login counts failures
# only, by address and email (10 per 15 min) and by address alone (30 per
# 15 min); register is 10 per 15 min by address.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
workers(2);

$Test::Nginx::Util::ReusePort = 1;

$ENV{TEST_NGINX_FLORES_CONF} = "$FindBin::Bin/../../conf/nginx";

my $now = time;
my $secret = 't' x 40;

key_dir();
write_secret('hs.key', $secret);

sub token {
    my (%c) = @_;
    return jwt(key => $secret,
               claims => { sub => '42', role => 'customer',
                           iss => 'flores-victoria', aud => 'flores-victoria-api',
                           iat => $now, exp => $now + 600, %c });
}

our %T = (customer => token(), admin => token(sub => '1', role => 'admin'));

# POSTs $body to $path on a new connection; returns the status.
sub post {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!";
    print {$s} "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
               . "Content-Type: application/json\r\nContent-Length: "
               . length($body) . "\r\n\r\n$body";
    local $/;
    my $answer = <$s> // '';
    my ($status) = $answer =~ m{^HTTP/1\.\d (\d+)};
    return $status // 0;
}

# $clients parallel clients, $each GETs of $path each; returns the statuses.
sub hammer {
    my ($clients, $each, $path) = @_;
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";
    pipe my $go_r, my $go_w or die "pipe: $!";

    for (1 .. $clients) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;
            close $go_w;
            my $start = <$go_r>;

            for (1 .. $each) {
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $port)
                    or POSIX::_exit(1);
                print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
                local $/;
                my $answer = <$s> // '';
                my ($status) = $answer =~ m{^HTTP/1\.\d (\d+)};
                syswrite $w, ($status // 0) . "\n";
            }

            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    close $w;
    close $go_r;
    close $go_w;

    my @out = map { chomp; $_ } <$r>;
    waitpid $_, 0 for @kids;

    return @out;
}

my $http_config = <<'_EOC_';
    include $TEST_NGINX_FLORES_CONF/limits.conf;

    # the services behind the gateway: ?fail=1 is a wrong password
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            if ($arg_fail) {
                return 401 "wrong password\n";
            }

            return 200 "ok\n";
        }
    }
_EOC_

my $config = <<'_EOC_';
    flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
    flores_jwt_issuer   flores-victoria;
    flores_jwt_audience flores-victoria-api;
    flores_jwt optional;

    add_header X-Limit $flores_limit_result always;

    flores_limit zone=public;
    flores_limit zone=authenticated;
    flores_limit zone=admin;

    location /api/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /api/auth/login {
        flores_limit zone=public;
        flores_limit zone=authenticated;
        flores_limit zone=admin;
        flores_limit zone=login_address status=401;
        flores_limit zone=login status=401;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location = /api/auth/register {
        flores_limit zone=public;
        flores_limit zone=authenticated;
        flores_limit zone=admin;
        flores_limit zone=register;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    location /api/products {
        flores_limit zone=public;
        flores_limit zone=authenticated;
        flores_limit zone=admin;
        flores_limit zone=search;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

run_tests();

__DATA__

=== TEST 1: one tier per caller: anonymous by address, customers and administrators by user id, searches also by caller
--- request eval
["GET /api/products", "GET /api/products", "GET /api/products", "GET /api/products?search=rosa", "GET /api/products?search="]
--- more_headers eval
["", "Authorization: Bearer $::T{customer}", "Authorization: Bearer $::T{admin}", "", ""]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["RateLimit-Policy: \"public\";q=300;w=60\nRateLimit: \"public\";r=349;t=1",
 "RateLimit-Policy: \"authenticated\";q=1200;w=60\nRateLimit: \"authenticated\";r=1199;t=1",
 "RateLimit-Policy: \"admin\";q=3000;w=60\nRateLimit: \"admin\";r=2999;t=1",
 "RateLimit-Policy: \"search\";q=60;w=60\nRateLimit: \"search\";r=59;t=1",
 "RateLimit-Policy: \"public\";q=300;w=60"]



=== TEST 2: public: 350 at once (300 per minute, burst 50), then 5 per second, across both workers; a signed-in user at that address is not held back
--- init
my $t0 = Time::HiRes::time();
my @s = ::hammer(20, 20, '/api/x');
my $elapsed = Time::HiRes::time() - $t0;
my $passed = grep { $_ == 200 } @s;
my $refused = grep { $_ == 429 } @s;
Test::More::is($passed + $refused, 400, 'every request answered 200 or 429');
Test::More::cmp_ok($passed, '>=', 350, 'at least the burst passed');
Test::More::cmp_ok($passed, '<=', 350 + int($elapsed * 5) + 1, 'no more than the burst and the refill')
    or Test::More::diag("$passed passed in $elapsed s");
--- request
GET /api/x
--- more_headers eval
"Authorization: Bearer $::T{customer}"
--- error_code: 200
--- response_headers
X-Limit: passed
RateLimit-Policy: "authenticated";q=1200;w=60



=== TEST 3: login: ten failures for one address and email, then even the right password waits; another email is still tried
--- init
for my $email ('ana@example.cl', 'ANA@example.cl', ' ana@Example.cl') {
    for (1 .. 3) {
        ::post('/api/auth/login?fail=1', qq({"email":"$email","password":"x"})) == 401 or die "not 401";
    }
}
::post('/api/auth/login', qq({"email":"ana\@example.cl","password":"right"})) == 200 or die "not 200";
::post('/api/auth/login?fail=1', qq({"email":"ana\@example.cl","password":"x"})) == 401 or die "not 401";
--- request eval
["POST /api/auth/login\n{\"email\":\"ana\@example.cl\",\"password\":\"right\"}",
 "POST /api/auth/login\n{\"email\":\"bruno\@example.cl\",\"password\":\"right\"}",
 "POST /api/auth/login?fail=1\n{\"email\":\"bruno\@example.cl\",\"password\":\"x\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[429, 200, 401]
--- response_headers eval
["X-Limit: rejected:login\nRetry-After: 90\nRateLimit: \"login\";r=0;t=900",
 "X-Limit: passed\nRateLimit: \"login\";r=10;t=0",
 "X-Limit: passed\nRateLimit: \"login\";r=9;t=90"]



=== TEST 4: login: one address trying many emails is stopped after 30 failures
--- init
for my $n (1 .. 30) {
    ::post('/api/auth/login?fail=1', qq({"email":"user$n\@example.cl","password":"x"})) == 401
        or die "attempt $n: not 401";
}
--- request
POST /api/auth/login
{"email":"someone@example.cl","password":"right"}
--- more_headers
Content-Type: application/json
--- error_code: 429
--- response_headers
X-Limit: rejected:login_address
Retry-After: 30



=== TEST 5: register: 10 per 15 minutes by address, successes included
--- init
for my $n (1 .. 10) {
    ::post('/api/auth/register', qq({"email":"new$n\@example.cl"})) == 200 or die "attempt $n: refused";
}
--- request
POST /api/auth/register
{"email":"new11@example.cl"}
--- error_code: 429
--- response_headers
X-Limit: rejected:register
Retry-After: 90
