# metrics_log.t: the shipped JSON access log format (conf/nginx/log_format.conf)
# writes one parseable JSON object per request with every field, whatever
# the client sends; and one request id joins everything: the X-Request-ID
# echoed to the client, the FastCGI parameters the service gets (through the
# shipped conf/nginx/fastcgi_flores.conf) and the access log line, whether
# the client's id was kept or replaced.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP ();
use Test::More ();
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;
use Flores::FastCGI;

master_on();
workers(2);

$ENV{TEST_NGINX_FLORES_CONF} = "$FindBin::Bin/../../conf/nginx";

my $now = time;
my $secret = 'l' x 40;

key_dir();
write_secret('hs.key', $secret);

our $Token = jwt(key => $secret, claims => {
    sub => '31', role => 'customer', email => 'rosa@example.cl',
    iss => 'flores-victoria', aud => 'flores-victoria-api',
    iat => $now, exp => $now + 600,
});

# The service tells what identity and request id it was given.
my $fcgi = Flores::FastCGI->start(sub {
    my $p = shift;
    my %seen = map { $_ => $p->{$_} // '' }
        qw(FLORES_REQUEST_ID HTTP_X_REQUEST_ID FLORES_USER_ID);
    return (200, {}, JSON::PP->new->canonical->encode(\%seen));
});

$ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;

my @fields = qw(time requestId userId method uri status service upstreamTime
                requestTime jwtError rateLimit breaker circuit bytesSent remoteAddr
                userAgent);

# The log, one line per request: every line must parse, with every field
# and no other.
sub log_lines {
    my $text = shift;
    my @out;

    for my $line (split /\n/, $text) {
        my $o = eval { JSON::PP->new->decode($line) }
            or return "not JSON: $line\n";
        my @keys = sort keys %$o;
        return "fields: @keys\n" if "@keys" ne join ' ', sort @fields;
        push @out, $o;
    }

    return \@out;
}

# One request on its own connection: (status, headers, body).
sub http {
    my ($path, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!";
    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n",
               map({ "$_\r\n" } @headers), "\r\n";
    local $/;
    my $answer = <$s>;
    my ($head, $body) = split /\r\n\r\n/, $answer, 2;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1, $2) : () } split /\r\n/, $head;
    return ($status, \%h, $body);
}

sub last_log_line {
    my ($status, $h, $body) = http('/log');
    my $lines = log_lines($body);
    die $lines unless ref $lines;
    return $lines->[-1];
}

default_blocks(
    http_config => "    include \$TEST_NGINX_FLORES_CONF/log_format.conf;\n",
    config      => <<'_EOC_',
    access_log $TEST_NGINX_SERVER_ROOT/logs/json.log flores_json;
    add_header X-Request-ID $flores_request_id always;

    location /api/users/ {
        flores_service user;
        flores_jwt on;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
        flores_jwt_issuer flores-victoria;
        flores_jwt_audience flores-victoria-api;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location = /static {
        return 200 "static\n";
    }

    location = /log {
        access_log off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/json.log;
    }
_EOC_
);

run_tests();

__DATA__

=== TEST 1: a request that reached its service: every field, with the values of that request
--- request eval
["GET /api/users/me?fields=name", "GET /log"]
--- more_headers eval
["X-Request-ID: log-1\nAuthorization: Bearer $::Token\nUser-Agent: flores-test/1.0", ""]
--- response_body_filters eval
[[], [sub {
    my $l = ::log_lines($_[0]);
    return $l unless ref $l;
    my $o = $l->[0];
    my $times = ($o->{time} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/
                 && $o->{upstreamTime} =~ /^\d+\.\d{3}$/
                 && $o->{requestTime} =~ /^\d+(?:\.\d+)?$/) ? 'times ok' : 'bad times';
    CORE::join("\n", scalar(@$l) . " line", $times,
               map { "$_=$o->{$_}" } qw(requestId userId method uri status service jwtError
                                        remoteAddr userAgent)) . "\n";
}]]
--- response_body eval
['{"FLORES_REQUEST_ID":"log-1","FLORES_USER_ID":"31","HTTP_X_REQUEST_ID":"log-1"}', <<'_EOB_']
1 line
times ok
requestId=log-1
userId=31
method=GET
uri=/api/users/me?fields=name
status=200
service=user
jwtError=
remoteAddr=127.0.0.1
userAgent=flores-test/1.0
_EOB_



=== TEST 2: a request refused at the gateway: no user, no service time, the reason
--- request eval
["GET /api/users/me", "GET /log"]
--- more_headers eval
["X-Request-ID: log-2", ""]
--- error_code eval
[401, 200]
--- response_body_filters eval
[[sub { '' }], [sub {
    my $l = ::log_lines($_[0]);
    return $l unless ref $l;
    my $o = $l->[0];
    CORE::join("\n", map { "$_=$o->{$_}" } qw(requestId userId status service upstreamTime jwtError)) . "\n";
}]]
--- response_body eval
["", <<'_EOB_']
requestId=log-2
userId=
status=401
service=user
upstreamTime=
jwtError=missing
_EOB_



=== TEST 3: what a client sends cannot break the line (escape=json)
--- request eval
["GET /static?a=%22b%22&c=\\", "GET /log"]
--- more_headers eval
["User-Agent: evil\"},{\"status\":200\\ agent\x{1}", ""]
--- response_body_filters eval
[[sub { '' }], [sub {
    my $l = ::log_lines($_[0]);
    return $l unless ref $l;
    my $o = $l->[0];
    CORE::join("\n", map { "$_=$o->{$_}" } qw(uri userAgent service status)) . "\n";
}]]
--- response_body eval
["", "uri=/static?a=%22b%22&c=\\\nuserAgent=evil\"},{\"status\":200\\ agent\x{1}\nservice=\nstatus=200\n"]



=== TEST 5: the rate limiter's and the breaker's decisions
--- http_config
    include $TEST_NGINX_FLORES_CONF/log_format.conf;
    flores_limit_zone key=$remote_addr zone=per_ip:1m rate=2r/m;
    flores_breaker_zone zone=breakers:64k;
    flores_breaker_profile quick consecutive=5 open=30s;
--- config
    access_log $TEST_NGINX_SERVER_ROOT/logs/json.log flores_json;

    location /api/orders/ {
        flores_service order;
        flores_limit zone=per_ip;
        flores_breaker zone=breakers profile=quick;
        include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location = /log {
        access_log off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/json.log;
    }
--- request eval
["GET /api/orders/1", "GET /api/orders/2", "GET /api/orders/3", "GET /log"]
--- error_code eval
[200, 200, 429, 200]
--- response_body_filters eval
[([sub { '' }]) x 3, [sub {
    my $l = ::log_lines($_[0]);
    return $l unless ref $l;
    CORE::join '', map { "$_->{status} rateLimit=$_->{rateLimit} breaker=$_->{breaker} circuit=$_->{circuit}\n" } @$l;
}]]
--- response_body eval
[("") x 3, <<'_EOB_']
200 rateLimit=passed breaker=passed circuit=closed
200 rateLimit=passed breaker=passed circuit=closed
429 rateLimit=rejected:per_ip breaker= circuit=
_EOB_



=== TEST 4: one id everywhere: echoed, given to the service, logged (kept, then replaced)
--- init
for my $case (['kept', 'X-Request-ID: abc-DEF_1.2', qr/^abc-DEF_1\.2$/],
              ['replaced', 'X-Request-ID: not sane!', qr/^[0-9a-f]{32}$/],
              ['too long', 'X-Request-ID: ' . ('x' x 65), qr/^[0-9a-f]{32}$/],
              ['generated', 'User-Agent: none', qr/^[0-9a-f]{32}$/])
{
    my ($name, $header, $want) = @$case;
    my ($status, $h, $body) = ::http('/api/users/me', $header,
                                     "Authorization: Bearer $::Token");
    my $seen = JSON::PP->new->decode($body);
    my $id = $h->{'x-request-id'} // '';
    Test::More::like($id, $want, "$name: the id echoed");
    Test::More::is($seen->{FLORES_REQUEST_ID}, $id, "$name: FLORES_REQUEST_ID is it");
    Test::More::is($seen->{HTTP_X_REQUEST_ID}, $id, "$name: the service's X-Request-ID is it");
    Test::More::is(::last_log_line()->{requestId}, $id, "$name: the log line has it");
}
--- request
GET /static
--- response_body
static
