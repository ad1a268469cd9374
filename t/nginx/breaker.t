# breaker.t: flores_breaker_zone / flores_breaker_profile / flores_breaker /
# flores_breaker_status. One breaker per service, in shared memory, so two
# workers share it: a failing service opens its breaker after the profile's
# failures (ratio of a rolling window, or a run of consecutive failures;
# 5xx, refused connections and timeouts fail, 4xx do not); while open the
# gateway answers 503 in the envelope with Retry-After without contacting
# the service; half-open admits exactly "probes" requests even to parallel
# clients on both workers; their successes close it, a failure reopens it;
# a probe whose client goes away gives its slot back; requests refused by
# the JWT check or a rate limit neither count nor probe; every transition is
# logged once; the status endpoint lists and resets; a reload keeps state.
#
# The stand-in service appends each request's path to a file, so a test can
# count what reached it; what it answers is the path's last segment: ok,
# fail (500), missing (404), slow<ms> (200 after ms), slowfail<ms> (500
# after ms).

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

$ENV{TEST_NGINX_FLORES_CONF} = "$FindBin::Bin/../../conf/nginx";

key_dir();
write_secret('hs.key', 'k' x 40);

my $dir = tempdir('flores-breaker-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $Hits = "$dir/hits";

my $fcgi = Flores::FastCGI->start(sub {
    my $p = shift;
    my $uri = $p->{DOCUMENT_URI} // '';

    if (open my $fh, '>>', $Hits) {
        print {$fh} "$uri\n";
        close $fh;
    }

    my ($how) = $uri =~ m{/([a-z0-9]+)$};
    $how //= '';

    my $ok = '{"status":"success","data":{}}';
    my $error = '{"status":"error","code":"INTERNAL_ERROR"}';

    if ($how =~ /^slow(fail)?(\d+)$/) {
        select undef, undef, undef, $2 / 1000;
        return $1 ? (500, {}, $error) : (200, {}, $ok);
    }

    return (500, {}, $error) if $how eq 'fail';
    return (404, {}, '{"status":"fail","code":"NOT_FOUND"}') if $how eq 'missing';
    return (200, {}, $ok);
});

$ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;

# a port where nothing listens: connections are refused
{
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "listen: $!";
    $ENV{TEST_NGINX_CLOSED_PORT} = $s->sockport;
    close $s;
}

sub reset_hits { open my $fh, '>', $Hits or die "$Hits: $!"; close $fh }

# how many requests reached the service whose path matches $re
sub hits {
    my $re = shift;
    open my $fh, '<', $Hits or return 0;
    return scalar grep { /$re/ } <$fh>;
}

# how many lines of this block's error log match $re
sub logged {
    my $re = shift;
    open my $fh, '<', $Test::Nginx::Util::ErrLogFile or return 0;
    return scalar grep { /$re/ } <$fh>;
}

sub access_log {
    my $file = "$Test::Nginx::Util::ServRoot/logs/breaker.log";
    open my $fh, '<', $file or return ();
    return <$fh>;
}

sub ms { Time::HiRes::sleep($_[0] / 1000) }

sub parse {
    my $answer = shift // '';
    my ($head, $body) = split /\r\n\r\n/, $answer, 2;
    $head //= '';
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my %h;
    $h{lc $1} = $2 while $head =~ /^([\w-]+): ([^\r\n]*)/mg;
    return { status => $status // 0, h => \%h, body => $body // '',
             worker => $h{'x-worker'} // '', retry => $h{'retry-after'} // '',
             breaker => $h{'x-breaker'} // '' };
}

sub connect_nginx {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $Test::Nginx::Util::ServerPortForClient)
        or die "connect: $!";
    return $s;
}

# one request on its own connection
sub http {
    my ($method, $path, $headers) = @_;
    my $s = connect_nginx();
    print {$s} "$method $path HTTP/1.0\r\nHost: localhost\r\n" . ($headers // '') . "\r\n";
    local $/;
    return parse(scalar <$s>);
}

sub get { http('GET', @_) }

# a request sent now whose answer is read (or abandoned) later
sub send_only {
    my ($path) = @_;
    my $s = connect_nginx();
    print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $s;
}

sub read_answer { my $s = shift; local $/; return parse(scalar <$s>) }

sub statuses { join ' ', map { get($_)->{status} } @_ }

# $n clients, started together, one request each for $path; the answers
sub parallel {
    my ($n, $path) = @_;
    my @kids;

    pipe my $r, my $w or die "pipe: $!";
    pipe my $go_r, my $go_w or die "pipe: $!";

    for (1 .. $n) {
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            close $r;
            close $go_w;

            # every client waits here until all exist
            my $start = <$go_r>;

            my $a = get($path);
            (my $body = $a->{body}) =~ s/[\t\n]//g;
            syswrite $w, join("\t", $a->{status}, $a->{worker}, $a->{retry},
                              $a->{breaker}, $body) . "\n";

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
        @a{qw(status worker retry breaker body)} = split /\t/, $line, -1;
        push @out, \%a;
    }

    waitpid $_, 0 for @kids;

    return @out;
}

sub count { my ($status, @a) = @_; scalar grep { $_->{status} == $status } @a }

sub workers_seen { my %w = map { $_->{worker} => 1 } grep { $_->{worker} } @_; scalar keys %w }

# $n requests for $path, one after the other on one keep-alive connection:
# the mean time from sending one to having read its answer, in microseconds
sub mean_rtt {
    my ($path, $n) = @_;
    my $s = connect_nginx();
    my $total = 0;

    for (1 .. $n) {
        my $t0 = [Time::HiRes::gettimeofday()];
        syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($s, $buf, 4096, length $buf) or die "read: $!";
        }
        my ($len) = $buf =~ /^Content-Length: (\d+)/mi;
        my $want = index($buf, "\r\n\r\n") + 4 + ($len // 0);
        while (length $buf < $want) {
            sysread($s, $buf, 4096, length $buf) or die "read: $!";
        }
        $total += Time::HiRes::tv_interval($t0);
    }

    return $total / $n * 1e6;
}

sub hup {
    my $pid = do { local (@ARGV, $/) = ($Test::Nginx::Util::PidFile); <> };
    chomp $pid;
    kill 'HUP', $pid or die "HUP $pid: $!";
    # the old workers finish, the new ones answer
    sleep 1;
}

# the breaker series of a scrape, without zeros
sub breaker_series {
    my $text = shift;
    return join '', map { "$_\n" }
        grep { /^flores_gateway_breaker_/ && !/ 0$/ } split /\n/, $text;
}

our $Envelope = qr/^\{"status":"error","code":"SERVICE_UNAVAILABLE","message":"Servicio no disponible temporalmente, intenta nuevamente en unos segundos","requestId":"[0-9a-f]{32}"\}$/;

my $http_config = <<'_EOC_';
    flores_breaker_zone zone=breakers:64k;
    flores_metrics_zone zone=metrics:1m;

    flores_breaker_profile ratio   failures=50% min_calls=4 window=10s open=2s probes=2;
    flores_breaker_profile run     consecutive=3 open=1s;
    flores_breaker_profile probes  consecutive=2 open=1s probes=2;
    flores_breaker_profile single  consecutive=2 open=1s probes=1;
    flores_breaker_profile stuck   consecutive=2 open=1s probes=1 probe_timeout=500ms;
    flores_breaker_profile rolling failures=50% min_calls=4 window=1s open=1s;
    flores_breaker_profile long    consecutive=2 open=60s;

    flores_limit_zone key=$http_x_user zone=users:1m rate=1r/h;

    log_format breaker '$flores_service $flores_breaker_state '
                       '$flores_breaker_result $status $request_time';
_EOC_

my $config = <<'_EOC_';
    add_header X-Worker $pid always;
    add_header X-Breaker "$flores_breaker_state $flores_breaker_result" always;
    access_log logs/breaker.log breaker;

    include $TEST_NGINX_FLORES_CONF/fastcgi_flores.conf;
    fastcgi_connect_timeout 1s;
    fastcgi_read_timeout 5s;

    location = /metrics {
        flores_metrics;
    }

    location = /breakers {
        flores_breaker_status;
    }

    location = /health {
        flores_health;
        flores_health_check ratio /_up critical;
        flores_health_check run /_up;
    }

    location = /_up {
        internal;
        return 200 "up\n";
    }

    location = /plain503 {
        return 503 '{"status":"error"}';
    }

    location /ratio/ {
        flores_service ratio;
        flores_breaker zone=breakers profile=ratio;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;

        # another location of the same service: the same breaker
        location /ratio/other/ {
            fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
        }
    }

    location /run/ {
        flores_service run;
        flores_breaker zone=breakers profile=run;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    # nothing listens: 502, which errors.conf turns into a 503 elsewhere
    location /refused/ {
        flores_service refused;
        flores_breaker zone=breakers profile=run;
        error_page 502 =503 @down;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    }

    location @down {
        return 503 "down\n";
    }

    location /timeout/ {
        flores_service timeout;
        flores_breaker zone=breakers profile=run;
        fastcgi_read_timeout 300ms;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /probes/ {
        flores_service probes;
        flores_breaker zone=breakers profile=probes;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /single/ {
        flores_service single;
        flores_breaker zone=breakers profile=single;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /stuck/ {
        flores_service stuck;
        flores_breaker zone=breakers profile=stuck;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /rolling/ {
        flores_service rolling;
        flores_breaker zone=breakers profile=rolling;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /long/ {
        flores_service long;
        flores_breaker zone=breakers profile=long;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }

    location /limited/ {
        flores_service limited;
        flores_jwt optional;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
        flores_limit zone=users;
        flores_breaker zone=breakers profile=single;
        fastcgi_pass 127.0.0.1:$TEST_NGINX_FCGI_PORT;
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

add_block_preprocessor(sub {
    my $block = shift;
    # each block starts a fresh nginx; the service's record starts empty too
    $block->set_value('init', "::reset_hits();\n" . ($block->init // ''));
});

run_tests();

__DATA__

=== TEST 1: failures=50% min_calls=4: the 4th call (2 of 4 failed) opens it; then 503 at once, without the service, for every location of the service
--- init
Test::More::is(::statuses(map { "/ratio/$_" } qw(ok ok fail fail)), '200 200 500 500', 'four calls reach the service');
my $a = ::get('/ratio/ok');
Test::More::is($a->{status}, 503, 'the fifth is refused');
Test::More::like($a->{body}, $::Envelope, 'in the envelope');
Test::More::like($a->{retry}, qr/^[12]$/, 'Retry-After: the seconds until half-open');
Test::More::is($a->{breaker}, 'open rejected', '$flores_breaker_state $flores_breaker_result');
Test::More::is(::get('/ratio/other/ok')->{status}, 503, 'another location of the service shares the breaker');
Test::More::is(::hits(qr{^/ratio/}), 4, 'the service saw only the four calls');
--- request
GET /ratio/ok
--- error_code: 503
--- response_headers_like
Retry-After: [12]
Content-Type: application/json
X-Breaker: open rejected
--- response_body_like eval
$::Envelope
--- error_log
flores breaker "ratio" opened: 2 of 4 calls failed in 10s, open for 2s



=== TEST 2: 4xx are successes; under the ratio, or under min_calls, it stays closed
--- init
Test::More::is(::statuses(map { "/ratio/$_" } qw(fail missing missing missing fail)),
               '500 404 404 404 500', '2 of 5 failed: 40%, closed');
Test::More::is(::get('/ratio/fail')->{status}, 500, '3 of 6 failed: 50%, admitted, and it opens');
Test::More::is(::logged(qr/flores breaker "ratio" opened: 3 of 6 calls failed in 10s/), 1, 'logged');
--- request
GET /ratio/ok
--- error_code: 503



=== TEST 3: consecutive=3: a success breaks the run; three failures in a row open it
--- init
Test::More::is(::statuses(map { "/run/$_" } qw(fail fail ok missing fail fail fail)),
               '500 500 200 404 500 500 500', 'seven calls');
Test::More::is(::hits(qr{^/run/}), 7, 'all reached the service');
--- request
GET /run/ok
--- error_code: 503
--- response_headers
Retry-After: 1
--- error_log
flores breaker "run" opened: 3 consecutive failures, open for 1s



=== TEST 4: refused connections (502, also behind an error_page) fail; once open, nginx stops connecting
--- init
my @a = map { ::get('/refused/x') } 1 .. 3;
Test::More::is(join(' ', map { "$_->{status}:$_->{body}" } @a), "503:down\n 503:down\n 503:down\n",
               'the error_page answers the 502s');
Test::More::is(::logged(qr/connect\(\) failed \(111: Connection refused\)/), 3, 'three connections tried');
my $b = ::get('/refused/x');
Test::More::like($b->{body}, $::Envelope, 'then the breaker answers');
Test::More::is(::logged(qr/connect\(\) failed/), 3, 'without trying to connect again');
--- request
GET /refused/x
--- error_code: 503
--- response_headers
X-Breaker: open rejected
--- error_log
flores breaker "refused" opened: 3 consecutive failures



=== TEST 5: a slow service hitting fastcgi_read_timeout (504) fails
--- init
my $t0 = [Time::HiRes::gettimeofday()];
Test::More::is(::statuses(('/timeout/slow1000') x 3), '504 504 504', 'three timeouts');
Test::More::is(::logged(qr/upstream timed out/), 3, 'logged by nginx');
my $t1 = [Time::HiRes::gettimeofday()];
my $a = ::get('/timeout/slow1000');
Test::More::is($a->{status}, 503, 'then refused');
Test::More::cmp_ok(Time::HiRes::tv_interval($t1), '<', 0.2, 'at once, not after the timeout');
Test::More::is(::hits(qr{^/timeout/}), 3, 'the service saw three');
--- request
GET /metrics
--- response_body_filters eval
\&::breaker_series
--- response_body
flores_gateway_breaker_state{service="timeout"} 2
flores_gateway_breaker_transitions_total{service="timeout",to="open"} 1
flores_gateway_breaker_rejections_total{service="timeout"} 1
--- error_log
flores breaker "timeout" opened: 3 consecutive failures



=== TEST 6: half-open admits exactly "probes" (2) of 12 parallel clients on two workers; their successes close it
--- init
Test::More::is(::statuses('/probes/fail', '/probes/fail', '/probes/ok'), '500 500 503', 'opened');
::ms(1100);
my @a = ::parallel(12, '/probes/slow800');
Test::More::is(scalar @a, 12, 'every client answered');
Test::More::is(::workers_seen(@a), 2, 'both workers answered');
Test::More::is(::count(200, @a), 2, 'two probes passed');
Test::More::is(::count(503, @a), 10, 'the other ten were refused');
Test::More::is(::hits(qr{^/probes/slow}), 2, 'exactly two reached the service');
Test::More::is(scalar(grep { $_->{status} == 200 && $_->{breaker} eq 'half_open probe' } @a), 2, 'as probes');
Test::More::is(scalar(grep { $_->{status} == 503 && $_->{breaker} eq 'half_open rejected'
                             && $_->{retry} eq '1' && $_->{body} =~ $::Envelope } @a), 10,
               'refusals: Retry-After: 1, the envelope');
Test::More::is(::logged(qr/flores breaker "probes" half-open: admitting up to 2 probes/), 1, 'half-open logged once');
Test::More::is(::logged(qr/flores breaker "probes" closed: 2 probe\(s\) succeeded/), 1, 'closed logged once');
--- request
GET /probes/ok
--- error_code: 200
--- response_headers
X-Breaker: closed passed



=== TEST 7: a failed probe opens it again for a new open period; later probes close it
--- init
Test::More::is(::statuses('/probes/fail', '/probes/fail'), '500 500', 'opened');
::ms(1100);
my $a = ::get('/probes/fail');
Test::More::is("$a->{status} $a->{breaker}", '500 half_open probe', 'the probe fails');
$a = ::get('/probes/ok');
Test::More::is("$a->{status} $a->{breaker} $a->{retry}", '503 open rejected 1', 'open again');
Test::More::is(::logged(qr/flores breaker "probes" opened again: a probe failed \(status 500\), open for 1s/), 1, 'logged');
::ms(1100);
Test::More::is(join(' ', map { my $x = ::get('/probes/ok'); "$x->{status}:$x->{breaker}" } 1 .. 3),
               '200:half_open probe 200:half_open probe 200:closed passed', 'two probes close it');
Test::More::is(::hits(qr{^/probes/}), 6, 'the refused request never reached the service');
--- request
GET /metrics
--- response_body_filters eval
\&::breaker_series
--- response_body
flores_gateway_breaker_transitions_total{service="probes",to="open"} 2
flores_gateway_breaker_transitions_total{service="probes",to="half_open"} 2
flores_gateway_breaker_transitions_total{service="probes",to="closed"} 1
flores_gateway_breaker_rejections_total{service="probes"} 1



=== TEST 8: a probe whose client goes away gives its slot back
--- init
Test::More::is(::statuses('/single/fail', '/single/fail'), '500 500', 'opened');
::ms(1100);
my $probe = ::send_only('/single/slow1500');
::ms(300);
Test::More::is(::get('/single/ok')->{breaker}, 'half_open rejected', 'the one slot is taken');
close $probe;
::ms(300);
my $a = ::get('/single/ok');
Test::More::is("$a->{status} $a->{breaker}", '200 half_open probe', 'the slot was given back');
Test::More::is(scalar(grep { /^single half_open probe 499 / } ::access_log()), 1, 'the abandoned probe: 499');
--- request
GET /single/ok
--- response_headers
X-Breaker: closed passed



=== TEST 9: probes unanswered after probe_timeout open it again; their late answers change nothing
--- init
Test::More::is(::statuses('/stuck/fail', '/stuck/fail'), '500 500', 'opened');
::ms(1100);
my $probe = ::send_only('/stuck/slow1500');
::ms(700);
my $a = ::get('/stuck/ok');
Test::More::is("$a->{status} $a->{breaker}", '503 open rejected', 'open again');
Test::More::is(::logged(qr/flores breaker "stuck" opened again: 1 probe\(s\) unanswered for 500ms, open for 1s/), 1, 'logged');
Test::More::is(::read_answer($probe)->{status}, 200, 'the late probe is answered');
Test::More::is(::get('/stuck/ok')->{status}, 503, 'but it closes nothing');
::ms(1100);
Test::More::is(::get('/stuck/ok')->{breaker}, 'half_open probe', 'a new probe');
--- request
GET /stuck/ok
--- response_headers
X-Breaker: closed passed



=== TEST 10: the window rolls: failures older than window=1s no longer count
--- init
Test::More::is(::statuses('/rolling/fail', '/rolling/fail'), '500 500', 'two failures');
::ms(1200);
# with the old failures it would open at the next 500 (3 of 5)
Test::More::is(::statuses(map { "/rolling/$_" } qw(ok ok fail)), '200 200 500', '1 of 3 in the window');
Test::More::is(::statuses('/rolling/fail', '/rolling/ok'), '500 503', '2 of 4: open');
--- request
GET /rolling/ok
--- error_code: 503
--- error_log
flores breaker "rolling" opened: 2 of 4 calls failed in 1s, open for 1s



=== TEST 11: the status endpoint lists every breaker, resets one (POST ?reset=<service>), and refuses what it does not know
--- init
::statuses(('/run/fail') x 3);
::get('/ratio/ok');
my $a = ::get('/breakers');
Test::More::is($a->{status}, 200, 'GET: 200');
Test::More::is($a->{h}{'content-type'}, 'application/json', 'JSON');
my $j = JSON::PP::decode_json($a->{body});
Test::More::is($j->{status}, 'success', 'the envelope');
my %b = map { $_->{service} => $_ } @{ $j->{data}{breakers} };
Test::More::is(join(',', sort keys %b), 'limited,long,probes,ratio,refused,rolling,run,single,stuck,timeout', 'every breaker');
my $run = $b{run};
Test::More::is(join(' ', map { "$_=$run->{$_}" } qw(state profile zone calls failures consecutiveFailures probesInFlight)),
               'state=open profile=run zone=breakers calls=3 failures=3 consecutiveFailures=3 probesInFlight=0', 'run: open');
Test::More::like($run->{openedAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'openedAt');
Test::More::ok($run->{retryInMs} > 0 && $run->{retryInMs} <= 1000, "retryInMs $run->{retryInMs}");
my $ratio = $b{ratio};
Test::More::is(join(' ', map { "$_=" . ($ratio->{$_} // 'null') } qw(state calls failures openedAt retryInMs)),
               'state=closed calls=1 failures=0 openedAt=null retryInMs=0', 'ratio: closed');
$a = ::http('POST', '/breakers?reset=run');
Test::More::is($a->{status}, 200, 'reset: 200');
$j = JSON::PP::decode_json($a->{body});
Test::More::is("$j->{status} $j->{message} $j->{data}{breaker}{service} $j->{data}{breaker}{state} $j->{data}{breaker}{calls}",
               'success Circuito del servicio run cerrado run closed 0', 'the breaker, closed and empty');
Test::More::is(::get('/run/ok')->{breaker}, 'closed passed', 'requests pass again');
Test::More::is(::logged(qr/flores breaker "run" closed by a reset \(was open\)/), 1, 'logged');
$a = ::http('POST', '/breakers?reset=nope');
Test::More::is($a->{status}, 404, 'unknown service: 404');
Test::More::like($a->{body}, qr/^\{"status":"fail","code":"NOT_FOUND",/, 'in the envelope');
$a = ::http('POST', '/breakers');
Test::More::is($a->{status}, 400, 'no service: 400');
Test::More::like($a->{body}, qr/^\{"status":"fail","code":"VALIDATION_ERROR",/, 'in the envelope');
--- request
DELETE /breakers
--- error_code: 405



=== TEST 12: many failures in flight together: one transition, logged once, counted once
--- init
my @a = ::parallel(16, '/ratio/slowfail300');
Test::More::is(::count(500, @a), 16, 'all sixteen were admitted while closed');
Test::More::is(::hits(qr{^/ratio/}), 16, 'and reached the service');
Test::More::is(::logged(qr/flores breaker "ratio" opened/), 1, 'one "opened" line');
my @b = ::parallel(8, '/ratio/ok');
Test::More::is(::count(503, @b), 8, 'then every request is refused');
Test::More::is(::workers_seen(@b), 2, 'by both workers');
Test::More::is(::logged(qr/\[warn\].*flores breaker "ratio"/), 1, 'nothing else logged');
--- request
GET /metrics
--- response_body_filters eval
\&::breaker_series
--- response_body
flores_gateway_breaker_state{service="ratio"} 2
flores_gateway_breaker_transitions_total{service="ratio",to="open"} 1
flores_gateway_breaker_rejections_total{service="ratio"} 8



=== TEST 13: requests refused by a rate limit (429) or the token check (401) neither count nor take a probe's slot
--- init
Test::More::is(::get('/limited/ok', "X-User: ana\r\n")->{status}, 200, "ana's one request an hour");
Test::More::is(::statuses('/limited/fail', '/limited/fail'), '500 500', 'opened');
::ms(1100);
my $a = ::get('/limited/ok', "X-User: ana\r\n");
Test::More::is("$a->{status} [$a->{breaker}]", '429 [ ]', 'the limiter refuses first; no breaker decision');
$a = ::get('/limited/ok', "Authorization: Bearer not.a.token\r\n");
Test::More::is("$a->{status} [$a->{breaker}]", '401 [ ]', 'the token check refuses first');
$a = ::get('/limited/ok');
Test::More::is("$a->{status} $a->{breaker}", '200 half_open probe', 'the probe slot was still free');
Test::More::is(::hits(qr{^/limited/}), 4, 'only admitted requests reached the service');
--- request
GET /limited/ok
--- response_headers
X-Breaker: closed passed
--- error_log
flores breaker "limited" closed: 1 probe(s) succeeded



=== TEST 14: the hot path: a refusal while open takes no measurable time ($request_time 0.000 on every one)
--- init
::statuses(('/long/fail') x 2);
my $breaker = ::mean_rtt('/long/ok', 500);
my $plain = ::mean_rtt('/plain503', 500);
Test::More::diag(sprintf "mean round trip on one connection: breaker refusal %.0f us, plain 'return 503' %.0f us",
                 $breaker, $plain);
my @refused = grep { /^long open rejected 503 / } ::access_log();
Test::More::is(scalar @refused, 500, 'five hundred refusals logged');
Test::More::is(scalar(grep { !/ 0\.000$/ } @refused), 0, 'each took under a millisecond inside nginx');
Test::More::cmp_ok($breaker, '<', 1000, 'well under a millisecond per refusal, round trip included');
Test::More::is(::hits(qr{^/long/}), 2, 'none reached the service');
--- request
GET /long/ok
--- error_code: 503



=== TEST 15: a reload (HUP) keeps the breakers' state
--- init
Test::More::is(::statuses('/long/fail', '/long/fail', '/long/ok'), '500 500 503', 'opened for 60s');
my $before = ::get('/metrics')->{worker};
::hup();
my $a = ::get('/long/ok');
Test::More::isnt($a->{worker}, $before, 'new workers answer');
Test::More::is("$a->{status} $a->{breaker}", '503 open rejected', 'still open');
Test::More::cmp_ok($a->{retry}, '>=', 55, "Retry-After $a->{retry}: the same open period");
--- request
GET /breakers
--- response_body_like chomp
"service":"long","state":"open","profile":"long","zone":"breakers","calls":2,"failures":2,



=== TEST 16: GET /health reads the breakers: an open circuit is a service down
--- init
::statuses(('/run/fail') x 3);
--- request
GET /health
--- error_code: 200
--- response_body_like chomp
^\{"status":"success","data":\{"status":"degraded","services":\{"ratio":\{"status":"up","circuit":"closed","latencyMs":\d+\},"run":\{"status":"down","circuit":"open","latencyMs":\d+\}\}\}\}$



=== TEST 17: a fresh zone: every breaker closed, every series at zero
--- request
GET /metrics
--- response_body_like
# TYPE flores_gateway_breaker_state gauge
flores_gateway_breaker_state\{service="ratio"\} 0
.*flores_gateway_breaker_transitions_total\{service="ratio",to="open"\} 0
flores_gateway_breaker_transitions_total\{service="ratio",to="half_open"\} 0
flores_gateway_breaker_transitions_total\{service="ratio",to="closed"\} 0
.*flores_gateway_breaker_rejections_total\{service="limited"\} 0
