# limit_failures.t: failures-only limits (flores_limit ... status=401) are
# exact. Each admitted request reserves one unit of its key at once, so
# attempts in flight together cannot all pass because none is answered yet:
# with a slow service, N parallel wrong passwords from a key at rest let
# exactly the limit reach the service, on either of two workers. An answer
# with another status gives its unit back (successes, the gateway's own
# 502/503 when the service is unreachable, a client that went away), dry-run
# limits still never refuse, and the email in the key follows the services'
# one rule: SP, HT, LF, VT, FF, CR trimmed, ASCII lower case, nothing else.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;
use Flores::FastCGI;

master_on();
workers(2);

# Connections go to either worker by the hash of their ports, not to
# whichever wakes first: both workers serve part of every load below.
$Test::Nginx::Util::ReusePort = 1;

my $dir = tempdir('flores-limit-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $Hits = "$dir/hits";

# The service: "right" is the password of every account; it answers after
# the milliseconds the URI ends with (/login/slow500), so that attempts are
# in flight together. Every request it sees is written to $Hits.
my $fcgi = Flores::FastCGI->start(sub {
    my ($p, $body) = @_;
    my $uri = $p->{DOCUMENT_URI} // '';
    my $j = eval { JSON::PP->new->decode($body) } || {};
    my $email = ref $j eq 'HASH' ? $j->{email} // '' : '';

    if (open my $fh, '>>:encoding(UTF-8)', $Hits) {
        print {$fh} "$email\n";
        close $fh;
    }

    if ($uri =~ /slow(\d+)$/) {
        select undef, undef, undef, $1 / 1000;
    }

    return (200, {}, '{"status":"success","data":{}}')
        if ref $j eq 'HASH' && ($j->{password} // '') eq 'right';

    return (401, {}, '{"status":"fail","code":"INVALID_CREDENTIALS"}');
});

$ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;

# a port where nothing listens: the service is unreachable
{
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "listen: $!";
    $ENV{TEST_NGINX_CLOSED_PORT} = $s->sockport;
    close $s;
}

# How many requests for $email reached the service.
sub hits {
    my ($email) = @_;
    open my $fh, '<', $Hits or return 0;
    my $n = grep { chomp; $_ eq $email } <$fh>;
    close $fh;
    return $n;
}

sub body {
    my ($email, $password) = @_;
    return JSON::PP->new->ascii->encode({ email => $email, password => $password });
}

# One request: POST $body to $path on its own connection. Returns
# {status, worker, retry, ratelimit}.
sub post {
    my ($path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or return { status => 0 };
    print {$s} "POST $path HTTP/1.0\r\nHost: localhost\r\n"
               . "Content-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    my $answer = <$s> // '';
    my ($head) = split /\r\n\r\n/, $answer, 2;
    $head //= '';
    my %a;
    ($a{status}) = $head =~ m{^HTTP/1\.\d (\d+)};
    ($a{worker}) = $head =~ /^X-Worker: (\d+)/mi;
    ($a{retry}) = $head =~ /^Retry-After: ([^\r\n]*)/mi;
    ($a{ratelimit}) = $head =~ /^RateLimit: ([^\r\n]*)/mi;
    $a{$_} //= '' for qw(worker retry ratelimit);
    $a{status} //= 0;
    return \%a;
}

# One client per body, all started together, each POSTing its body to
# $path. Returns the answers (see post()), in no particular order.
sub fire {
    my ($path, @bodies) = @_;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";
    pipe my $go_r, my $go_w or die "pipe: $!";

    for my $body (@bodies) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;
            close $go_w;

            # every client waits here until all exist
            my $start = <$go_r>;

            my $a = post($path, $body);
            syswrite $w, join("\t", @$a{qw(status worker retry ratelimit)}) . "\n";

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
        @a{qw(status worker retry ratelimit)} = split /\t/, $line, -1;
        push @out, \%a;
    }

    waitpid $_, 0 for @kids;

    return @out;
}

sub count { my ($status, @a) = @_; scalar grep { $_->{status} == $status } @a }

sub workers_seen { my %w = map { $_->{worker} => 1 } grep { $_->{worker} } @_; scalar keys %w }

# The scrape, reduced to one zone's rate-limit series that are not zero.
sub zone_series {
    my ($zone) = @_;
    return sub {
        my $text = shift;
        return join '', map { "$_\n" }
            grep { /^flores_gateway_ratelimit_\w+\{zone="\Q$zone\E"/ && !/ 0$/ }
            split /\n/, $text;
    };
}

my $http_config = <<'_EOC_';
    flores_limit_zone key=$binary_remote_addr$flores_limit_json_email
                      zone=login:1m rate=10r/15m;
    flores_limit_zone key=$binary_remote_addr$flores_limit_json_email
                      zone=five:1m rate=5r/h;
    flores_limit_zone key=$binary_remote_addr$flores_limit_json_email
                      zone=two:1m rate=2r/h;
    flores_limit_zone key=$binary_remote_addr zone=address:1m rate=4r/h;
    flores_limit_zone key=$binary_remote_addr$flores_limit_json_email
                      zone=dry:1m rate=2r/h;
    flores_limit_zone key=$flores_limit_json_email zone=email:1m rate=2r/h;

    flores_metrics_zone zone=metrics:1m;
_EOC_

my $config = <<'_EOC_';
    add_header X-Worker $pid always;
    add_header X-Limit $flores_limit_result always;

    fastcgi_param DOCUMENT_URI $document_uri;
    fastcgi_connect_timeout 1s;
    fastcgi_read_timeout 5s;

    location = /metrics {
        flores_metrics;
    }

    location /login/ {
        flores_limit zone=login status=401;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /five/ {
        flores_limit zone=five status=401;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /two/ {
        flores_limit zone=two status=401;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    # the address limit is checked first: what it reserved for a request
    # that the email limit refuses is given back
    location /both/ {
        flores_limit zone=address status=401;
        flores_limit zone=two status=401;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    # the service is unreachable: the gateway answers 502, turned into a
    # 503 as the shipped errors.conf does
    location /down/ {
        flores_limit zone=two status=401;
        error_page 502 503 =503 @down;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    }

    location @down {
        return 503 '{"status":"error","code":"SERVICE_UNAVAILABLE"}';
    }

    location /dry/ {
        flores_limit zone=dry status=401 dry_run;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /email/ {
        flores_limit zone=email status=401;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

run_tests();

__DATA__

=== TEST 1: 2 workers, 30 parallel wrong passwords for one email, slow service: exactly 10 reach it (10 per 15 min)
--- init
my @a = ::fire('/login/slow500', map { ::body('ana@example.cl', "wrong$_") } 1 .. 30);
Test::More::is(scalar @a, 30, 'every request answered');
Test::More::is(::workers_seen(@a), 2, 'both workers answered');
Test::More::is(::count(401, @a), 10, '10 wrong passwords reached the service');
Test::More::is(::count(429, @a), 20, 'the other 20 refused at the gateway');
Test::More::is(::hits('ana@example.cl'), 10, 'the service saw exactly 10');
# every refusal was made while 10 units were reserved, none yet counted:
# T = 90 s, the next attempt is admitted 90 s after the first failure
my @retry = grep { $_->{status} == 429 && $_->{retry} !~ /^(?:89|90)$/ } @a;
Test::More::is(scalar @retry, 0, 'Retry-After: 90 on every refusal');
my @rl = grep { $_->{status} == 429 && $_->{ratelimit} !~ /^"login";r=0;t=9\d\d$/ } @a;
Test::More::is(scalar @rl, 0, 'RateLimit: r=0 on every refusal');
--- request
GET /metrics
--- response_body_filters eval
::zone_series('login')
--- response_body
flores_gateway_ratelimit_requests_total{zone="login",result="passed"} 10
flores_gateway_ratelimit_requests_total{zone="login",result="rejected"} 20
flores_gateway_ratelimit_rejections_total{zone="login",mode="enforce"} 20
flores_gateway_ratelimit_failures_total{zone="login"} 10
flores_gateway_ratelimit_keys{zone="login"} 1



=== TEST 2: successes give their unit back: waves of 5 parallel right passwords all pass, then 5 failures still fit
--- init
for my $wave (1 .. 3) {
    my @a = ::fire('/five/slow300', map { ::body('bea@example.cl', 'right') } 1 .. 5);
    Test::More::is(::count(200, @a), 5, "wave $wave: 5 right passwords in flight together, all passed");
}
my @f = ::fire('/five/slow300', map { ::body('bea@example.cl', 'wrong') } 1 .. 5);
Test::More::is(::count(401, @f), 5, 'then 5 wrong passwords in flight together: all reach the service');
Test::More::is(::hits('bea@example.cl'), 20, 'the service saw 20');
--- request
POST /five/x
{"email":"bea@example.cl","password":"right"}
--- error_code: 429
--- response_headers
X-Limit: rejected:five
Retry-After: 720



=== TEST 3: in flight, a right password holds a unit like any attempt; 12 parallel, right and wrong mixed: 5 pass, and all failures together never exceed 5
--- init
my @bodies = map { ::body('carla@example.cl', $_ % 2 ? 'right' : 'wrong') } 1 .. 12;
my @a = ::fire('/five/slow500', @bodies);
my ($ok, $failed) = (::count(200, @a), ::count(401, @a));
Test::More::is($ok + $failed, 5, '5 admitted');
Test::More::is(::count(429, @a), 7, '7 refused');
# the successes gave their units back: exactly 5 - $failed more failures fit
my $more = 0;
for (1 .. 6) {
    my $s = ::post('/five/x', ::body('carla@example.cl', 'wrong'))->{status};
    last if $s == 429;
    $more++ if $s == 401;
}
Test::More::is($failed + $more, 5, "failures in all: 5 ($failed in flight together, $more after)");
--- request
POST /five/x
{"email":"carla@example.cl","password":"right"}
--- error_code: 429
--- response_headers
X-Limit: rejected:five



=== TEST 4: sequentially: a success never counts, each failure does, the answers show it
--- request eval
["POST /two/x\n{\"email\":\"dora\@example.cl\",\"password\":\"right\"}",
 "POST /two/x\n{\"email\":\"dora\@example.cl\",\"password\":\"wrong\"}",
 "POST /two/x\n{\"email\":\"dora\@example.cl\",\"password\":\"right\"}",
 "POST /two/x\n{\"email\":\"dora\@example.cl\",\"password\":\"wrong\"}",
 "POST /two/x\n{\"email\":\"dora\@example.cl\",\"password\":\"right\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 401, 200, 401, 429]
--- response_headers eval
["RateLimit: \"two\";r=2;t=0\nX-Limit: passed",
 "RateLimit: \"two\";r=1;t=1800",
 "RateLimit: \"two\";r=1;t=1800",
 "RateLimit: \"two\";r=0;t=3600",
 "RateLimit: \"two\";r=0;t=3600\nRetry-After: 1800\nX-Limit: rejected:two"]



=== TEST 5: the service unreachable (502 made 503 by error_page): never counted, never refused
--- request eval
["POST /down/x\n{\"email\":\"eva\@example.cl\",\"password\":\"wrong\"}",
 "POST /down/x\n{\"email\":\"eva\@example.cl\",\"password\":\"wrong\"}",
 "POST /down/x\n{\"email\":\"eva\@example.cl\",\"password\":\"wrong\"}",
 "POST /down/x\n{\"email\":\"eva\@example.cl\",\"password\":\"wrong\"}",
 "POST /two/x\n{\"email\":\"eva\@example.cl\",\"password\":\"wrong\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[503, 503, 503, 503, 401]
--- response_headers eval
["RateLimit: \"two\";r=2;t=0\nX-Limit: passed", "RateLimit: \"two\";r=2;t=0",
 "RateLimit: \"two\";r=2;t=0", "RateLimit: \"two\";r=2;t=0",
 "RateLimit: \"two\";r=1;t=1800"]



=== TEST 6: a client that goes away before the answer learns nothing: its unit is given back
--- init
for (1 .. 4) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient) or die;
    my $body = ::body('flor@example.cl', 'wrong');
    print {$s} "POST /two/slow400 HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n$body";
    # the gateway has admitted it and passed it on by now
    select undef, undef, undef, 0.15;
    close $s;
}
# the service finishes the last one
select undef, undef, undef, 0.5;
--- request
POST /two/x
{"email":"flor@example.cl","password":"wrong"}
--- error_code: 401
--- response_headers
RateLimit: "two";r=1;t=1800
X-Limit: passed



=== TEST 7: two limits: a request the second refuses gives back what the first reserved
--- init
my @a = ::fire('/both/slow300', map { ::body('gala@example.cl', 'wrong') } 1 .. 6);
Test::More::is(::count(401, @a), 2, 'the email limit let 2 through');
Test::More::is(::count(429, @a), 4, 'and refused 4');
--- request
POST /both/x
{"email":"other@example.cl","password":"wrong"}
--- error_code: 401
--- response_headers
RateLimit: "address";r=1;t=2700
X-Limit: passed



=== TEST 8: dry_run, failures-only: nothing refused; what enforcing would refuse is logged and not counted
--- init
my @a = ::fire('/dry/slow300', map { ::body('hugo@example.cl', 'wrong') } 1 .. 6);
Test::More::is(::count(401, @a), 6, 'all 6 reached the service');
Test::More::is(scalar(grep { $_->{ratelimit} ne '' } @a), 0, 'no RateLimit header');
--- request
GET /metrics
--- response_body_filters eval
::zone_series('dry')
--- response_body
flores_gateway_ratelimit_requests_total{zone="dry",result="passed"} 2
flores_gateway_ratelimit_requests_total{zone="dry",result="dry_run"} 4
flores_gateway_ratelimit_rejections_total{zone="dry",mode="dry_run"} 4
flores_gateway_ratelimit_failures_total{zone="dry"} 2
flores_gateway_ratelimit_keys{zone="dry"} 1
--- error_log
flores limit: request over the limit of zone "dry", dry run



=== TEST 9: the email rule: leading and trailing SP HT LF VT FF CR trimmed, ASCII lower case: one key
--- request eval
["POST /email/x\n{\"email\":\"\\fIris\@Example.CL\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"iris\@example.cl\\u000b\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\" \\t\\r\\n\\u000b\\f IRIS\@example.cl\\f\\u000b\\n\\r\\t \",\"password\":\"right\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[401, 401, 429]
--- response_headers eval
["RateLimit: \"email\";r=1;t=1800", "RateLimit: \"email\";r=0;t=3600", "X-Limit: rejected:email"]



=== TEST 10: the email rule changes nothing else: inner white space, other spaces (NBSP, U+2028), non-ASCII letters stay
--- init
for (1 .. 2) {
    ::post('/email/x', ::body('juana@example.cl', 'wrong'))->{status} == 401 or die 'not 401';
}
--- request eval
["POST /email/x\n{\"email\":\"juana\@example.cl\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"\\u00a0juana\@example.cl\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"juana\@example.cl\\u2028\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"juana \@example.cl\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"JUANA\@EXAMPLE.CL\\u0000\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"\\u00c9lia\@example.cl\",\"password\":\"x\"}",
 "POST /email/x\n{\"email\":\"\\u00e9lia\@example.cl\",\"password\":\"x\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[429, 401, 401, 401, 401, 401, 401]
--- response_headers eval
["X-Limit: rejected:email", "RateLimit: \"email\";r=1;t=1800", "RateLimit: \"email\";r=1;t=1800",
 "RateLimit: \"email\";r=1;t=1800", "RateLimit: \"email\";r=1;t=1800",
 "RateLimit: \"email\";r=1;t=1800", "RateLimit: \"email\";r=1;t=1800"]
