package Flores::Test;
# Flores::Test: what the integration suite shares: HTTP through the gateway, envelope checks,
# users and tokens, JWT minting, SQL, the event bus, stack control and the block runner.
#
# The tests run against a live stack.  ./flores exports its facts (FLORES_URL, ...); when a
# file is run alone the same facts are read from $FLORES_STACK_DIR/stack.env, run/test/stack.env
# or run/stack.env, in that order.  Only Perl core modules are used.

use strict;
use warnings;
use utf8;

use Exporter 'import';
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Encode ();
use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use MIME::Base64 qw(encode_base64url decode_base64url);
use Time::HiRes ();
use IPC::Open3 qw(open3);
use File::Basename qw(dirname);
use File::Find ();
use File::Temp ();
use Cwd qw(abs_path);
use IO::Socket::UNIX ();
use IO::Select ();
use Socket qw(SOCK_STREAM);

our @EXPORT = qw(
    ROOT ABSENT
    api internal_api next_source_address header bearer success_ok envelope_ok errors_fields_ok json_like
    unique_email register_user login login_ok refresh
    mint_jwt decode_jwt jwt_secret jwt_signing_key verify_jwt random_hex
    pg pg_value pg_dump_schema
    events_bin events_declare events_tail events_delete unique_queue
    run_cmd flores stop_component start_component stack_down stack_up cleanup
    redis_cmd gateway_key service_socket
    metric_sum auth_requests auth_log_lines wait_for median now_ms
    run_blocks finish
);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
sub ROOT { $ROOT }

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $SEQ  = 0;

# A marker for json_like: the key must not exist.
my $ABSENT = bless {}, 'Flores::Test::Absent';
sub ABSENT { $ABSENT }


# ---- the stack's facts ----------------------------------------------------------------

sub _load_stack_env {
    return if $ENV{FLORES_URL};
    my @candidates = (
        ($ENV{FLORES_STACK_DIR} ? "$ENV{FLORES_STACK_DIR}/stack.env" : ()),
        "$ROOT/run/test/stack.env",
        "$ROOT/run/stack.env",
    );
    for my $file (@candidates) {
        open my $fh, '<', $file or next;
        while (my $line = <$fh>) {
            next unless $line =~ /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*?)\s*$/;
            my ($k, $v) = ($1, $2);
            $v =~ s/^'(.*)'$/$1/ or $v =~ s/^"(.*)"$/$1/;
            $ENV{$k} //= $v;
        }
        close $fh;
        Test::More::diag("stack facts read from $file");
        return;
    }
}

_load_stack_env();
$ENV{FLORES_BIN_DIR} //= $ENV{FLORES_BUILD_DIR} // "$ROOT/run/build";
$ENV{FLORES_LOG_DIR} //= ($ENV{FLORES_STACK_DIR} ? "$ENV{FLORES_STACK_DIR}/log" : "$ROOT/run/log");

for my $need (qw(FLORES_URL FLORES_INTERNAL_URL FLORES_PG_URL)) {
    next if defined $ENV{$need} && length $ENV{$need};
    Test::More::BAIL_OUT("$need is not set: start a stack (./flores up) or run ./flores test");
}
s{/+\z}{} for $ENV{FLORES_URL}, $ENV{FLORES_INTERNAL_URL};

# Bounded run time for a whole file, and END blocks that restore the stack even when a
# file is interrupted.
my $WATCHDOG = $ENV{FLORES_TEST_FILE_TIMEOUT} // 900;
$SIG{ALRM} = sub { Test::More::diag("watchdog: the file ran over $WATCHDOG s"); exit 254 };
$SIG{INT}  = sub { Test::More::diag('interrupted'); exit 130 };
$SIG{TERM} = sub { Test::More::diag('terminated'); exit 143 };
alarm $WATCHDOG;


# ---- small helpers --------------------------------------------------------------------

sub now_ms { return Time::HiRes::time() * 1000 }

sub random_hex {
    my $n = shift // 8;
    my $s = '';
    if (open my $fh, '<:raw', '/dev/urandom') {
        read($fh, my $buf, $n) == $n or die "short read from /dev/urandom";
        close $fh;
        $s = unpack 'H*', $buf;
    } else {
        $s .= sprintf '%02x', int rand 256 for 1 .. $n;
    }
    return $s;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# Polls $code every $step seconds until it returns true or $timeout seconds passed; returns
# the last value.
sub wait_for {
    my ($timeout, $code, $step) = @_;
    $step //= 0.2;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return $v if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep($step);
    }
}

sub _bytes { my $s = shift; return utf8::is_utf8($s) ? Encode::encode('UTF-8', $s) : $s }


# ---- HTTP -----------------------------------------------------------------------------

# Client addresses.  The gateway rate-limits anonymous callers by address (register: 10 per
# 15 minutes), and this suite registers many users from one machine.  So that functional tests
# do not depend on the limiter's state, each request to the public listener comes from its own
# loopback address (127.X.Y.Z; Linux answers on all of 127/8) unless a test names one
# (source => ...) or FLORES_TEST_SOURCE=fixed.  The internal listener only admits 127.0.0.1,
# which requests to it keep.
my $SRC_NET = 16 + ($$ % 200);
my $SRC_SEQ = int rand 1000;

sub next_source_address {
    $SRC_SEQ = ($SRC_SEQ + 1) % 65024;
    return sprintf '127.%d.%d.%d', $SRC_NET, 1 + int($SRC_SEQ / 254), 1 + $SRC_SEQ % 254;
}

# api($method, $path, $body, \%headers, \%opts) sends one request to the gateway (or to $path
# when it is an absolute URL).  $body: a hash or array reference is sent as JSON; a string is
# sent as is; a code reference streams the body chunked.  A body gets Content-Type
# application/json unless the headers name one (undef: none at all).  %opts: source => the
# client address.  Returns
#   {status, headers (lower-case names), json (undef unless the body is JSON), raw, ms}.
sub api {
    my ($method, $path, $body, $headers, $opts) = @_;
    $opts ||= {};
    my %h = %{ $headers || {} };
    my $url = $path =~ m{^https?://} ? $path : "$ENV{FLORES_URL}$path";
    my %opt;
    if (defined $body) {
        my $content = (ref $body eq 'HASH' || ref $body eq 'ARRAY') ? $JSON->encode($body)
                    : ref $body eq 'CODE' ? $body
                    : _bytes($body);
        $opt{content} = $content;
        $h{'Content-Type'} = 'application/json' unless grep { lc eq 'content-type' } keys %h;
    }
    for my $k (keys %h) {
        delete $h{$k} unless defined $h{$k};
    }
    $opt{headers} = \%h;
    my $source = $opts->{source};
    if (!defined $source && index($url, "$ENV{FLORES_URL}/") == 0
        && ($ENV{FLORES_TEST_SOURCE} // '') ne 'fixed') {
        $source = next_source_address();
    }
    my $http = HTTP::Tiny->new(timeout => 15, keep_alive => 0, agent => 'flores-tests/1',
        (defined $source ? (local_address => $source) : ()));
    my $t0 = now_ms();
    # A client address names a TCP connection: a unix socket has none.
    my $unix = defined $opts->{source} ? undef : _internal_socket_path($method, $url);
    my $r = defined $unix ? _unix_request($method, $ENV{FLORES_INTERNAL_SOCKET}, $unix, \%opt)
          : $http->request($method, $url, \%opt);
    my $ms = now_ms() - $t0;
    my $json;
    if (defined $r->{content} && length $r->{content}) {
        $json = eval { $JSON->decode($r->{content}) };
    }
    return {
        source  => $source // '127.0.0.1',
        status  => $r->{status},
        reason  => $r->{reason},
        headers => $r->{headers} || {},
        raw     => $r->{content} // '',
        json    => $json,
        ms      => $ms,
        url     => $url,
        method  => $method,
    };
}

# The gateway's internal listener is two: the read-only TCP one (FLORES_INTERNAL_URL: metrics,
# health, GET /breakers) and a unix socket (FLORES_INTERNAL_SOCKET) for the internal API
# passage /internal/..., POST /breakers and /revocations.  A request to FLORES_INTERNAL_URL
# for one of those goes to the socket, as the services' own calls do, unless it names its
# client address (source => ...): then it stays on TCP.  Returns its path.
sub _internal_socket_path {
    my ($method, $url) = @_;
    return undef unless $ENV{FLORES_INTERNAL_SOCKET} && index($url, "$ENV{FLORES_INTERNAL_URL}/") == 0;
    my $path = substr $url, length $ENV{FLORES_INTERNAL_URL};
    return $path if $path =~ m{^/(?:internal|revocations)(?:[/?]|\z)};
    return $path if $path =~ m{^/breakers(?:\?|\z)} && $method ne 'GET';
    return undef;
}

# One HTTP/1.0 request over a unix socket (the answer ends with the connection: no chunks).
# Returns what HTTP::Tiny's request() does: {status, reason, headers, content}.
sub _unix_request {
    my ($method, $sock, $path, $opt) = @_;
    my $fail = sub { return { status => 599, reason => 'Internal Exception', headers => {}, content => "$_[0]\n" } };
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $sock)
        or return $fail->("cannot connect to $sock: $!");
    my $body = $opt->{content};
    return $fail->('a streamed body cannot go to the internal socket') if ref $body;
    my %h = %{ $opt->{headers} || {} };
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\nUser-Agent: flores-tests/1\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    print {$s} $req;
    my ($raw, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(15)) {
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    my ($head, $content) = split /\r\n\r\n/, $raw, 2;
    my ($status, $reason) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3}) ?([^\r\n]*)}
        or return $fail->("no HTTP answer on $sock");
    my %headers;
    for my $line (split /\r\n/, $head) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        my $k = lc $1;
        $headers{$k} = exists $headers{$k}
            ? [ref $headers{$k} ? @{ $headers{$k} } : $headers{$k}, $2] : $2;
    }
    return { status => $status, reason => $reason, headers => \%headers, content => $content // '' };
}

sub internal_api {
    my ($method, $path, $body, $headers) = @_;
    return api($method, "$ENV{FLORES_INTERNAL_URL}$path", $body, $headers);
}

# A response header by name; several values are joined with ", ".
sub header {
    my ($res, $name) = @_;
    my $v = $res->{headers}{lc $name};
    return ref $v eq 'ARRAY' ? join(', ', @$v) : $v;
}

sub bearer { return { Authorization => "Bearer $_[0]" } }

sub _show {
    my $res = shift;
    my $raw = $res->{raw} // '';
    $raw = substr($raw, 0, 600) . '...' if length $raw > 600;
    return "$res->{method} $res->{url} (from $res->{source}) -> $res->{status}: $raw";
}

# English words that a Spanish message would not contain.
my $ENGLISH = qr/\b(?:the|is|are|was|were|must|not|invalid|required|please|failed|unauthorized|
    forbidden|missing|found|allowed|expired|already|too|large|wrong|unknown|unavailable|
    credentials|should|cannot|exists)\b/xi;

sub _envelope_problems {
    my ($res, $want_status) = @_;
    my @why;
    my $j = $res->{json};
    my $ct = header($res, 'Content-Type') // '';
    push @why, "Content-Type is '$ct', want application/json"
        unless $ct =~ m{^application/json\b}i;
    push @why, "no X-Request-ID response header" unless length(header($res, 'X-Request-ID') // '');
    if (ref $j ne 'HASH') {
        push @why, 'the body is not a JSON object';
        return @why;
    }
    my $st = $j->{status} // '(none)';
    push @why, "status field '$st', want '$want_status'" if $st ne $want_status;
    return @why;
}

# success_ok($res, $status, $name): the success envelope with the given HTTP status.
sub success_ok {
    my ($res, $status, $name) = @_;
    $status //= 200;
    $name //= "$status success envelope";
    my @why;
    push @why, "HTTP status $res->{status}, want $status" if $res->{status} != $status;
    push @why, _envelope_problems($res, 'success');
    push @why, 'data is not an object' if ref $res->{json} eq 'HASH' && ref $res->{json}{data} ne 'HASH';
    my $ok = ok(!@why, $name);
    diag(join("\n", @why, _show($res))) unless $ok;
    return $ok;
}

# envelope_ok($res, $status, $code, $name): a JSend fail (4xx) or error (5xx) envelope with
# this code, a non-empty Spanish message and requestId equal to the X-Request-ID header.
sub envelope_ok {
    my ($res, $status, $code, $name) = @_;
    $name //= "$status $code envelope";
    my @why;
    push @why, "HTTP status $res->{status}, want $status" if $res->{status} != $status;
    push @why, _envelope_problems($res, $status >= 500 ? 'error' : 'fail');
    my $j = $res->{json};
    if (ref $j eq 'HASH') {
        my $got = $j->{code} // '(none)';
        push @why, "code '$got', want '$code'" if $got ne $code;
        my $msg = $j->{message};
        if (!defined $msg || ref $msg || $msg !~ /\S/) {
            push @why, 'message missing or empty';
        } elsif ($msg =~ $ENGLISH || $msg eq $code) {
            push @why, "message does not read as Spanish: '$msg'";
        }
        my $rid = $j->{requestId} // '';
        my $hid = header($res, 'X-Request-ID') // '';
        push @why, "requestId '$rid' differs from X-Request-ID '$hid'" if !length $rid || $rid ne $hid;
        push @why, 'a failure must not carry data' if exists $j->{data};
    }
    my $ok = ok(!@why, $name);
    diag(join("\n", @why, _show($res))) unless $ok;
    return $ok;
}

# errors_fields_ok($res, \@fields, $name): errors[] names exactly these fields (any order),
# each with a Spanish message.
sub errors_fields_ok {
    my ($res, $fields, $name) = @_;
    $name //= 'errors list ' . join(', ', @$fields);
    my @why;
    my $errs = ref $res->{json} eq 'HASH' ? $res->{json}{errors} : undef;
    if (ref $errs ne 'ARRAY') {
        push @why, 'no errors array';
    } else {
        my %got;
        for my $e (@$errs) {
            if (ref $e ne 'HASH' || !defined $e->{field}) { push @why, 'an error without field'; next }
            $got{$e->{field}}++;
            my $m = $e->{message};
            push @why, "field $e->{field}: message missing or not Spanish"
                if !defined $m || ref $m || $m !~ /\S/ || $m =~ $ENGLISH;
        }
        my $g = join ',', sort keys %got;
        my $w = join ',', sort @$fields;
        push @why, "fields [$g], want [$w]" if $g ne $w;
    }
    my $ok = ok(!@why, $name);
    diag(join("\n", @why, _show($res))) unless $ok;
    return $ok;
}

# json_like($got, $expected, $name): every key of $expected matches in $got.  Leaves: a
# string or number (eq), a Regexp (like), a code reference (true), undef (null or absent),
# ABSENT (no such key).  Arrays are compared element by element and must have equal length.
sub json_like {
    my ($got, $exp, $name) = @_;
    my @why;
    _like($got, $exp, '', \@why);
    my $ok = ok(!@why, $name // 'body matches');
    diag(join "\n", @why, 'got: ' . $JSON->encode($got)) unless $ok;
    return $ok;
}

sub _like {
    my ($got, $exp, $path, $why) = @_;
    my $r = ref $exp;
    if ($r eq 'HASH') {
        return push @$why, "$path: not an object" if ref $got ne 'HASH';
        for my $k (sort keys %$exp) {
            my $e = $exp->{$k};
            if (ref $e eq 'Flores::Test::Absent') {
                push @$why, "$path.$k: present, want absent" if exists $got->{$k};
                next;
            }
            _like($got->{$k}, $e, "$path.$k", $why);
        }
    } elsif ($r eq 'ARRAY') {
        return push @$why, "$path: not an array" if ref $got ne 'ARRAY';
        return push @$why, "$path: " . scalar(@$got) . ' items, want ' . scalar(@$exp) if @$got != @$exp;
        _like($got->[$_], $exp->[$_], "$path\[$_]", $why) for 0 .. $#$exp;
    } elsif ($r eq 'Regexp') {
        push @$why, "$path: " . (defined $got ? "'$got'" : 'missing') . " !~ $exp"
            if !defined $got || ref $got || $got !~ $exp;
    } elsif ($r eq 'CODE') {
        push @$why, "$path: " . (defined $got ? $JSON->encode($got) : 'missing') . ' refused by check'
            unless $exp->($got);
    } elsif (!defined $exp) {
        push @$why, "$path: " . $JSON->encode($got) . ', want null or absent' if defined $got;
    } else {
        push @$why, "$path: " . (defined $got ? $JSON->encode($got) : 'missing') . ", want '$exp'"
            if !defined $got || ref $got || "$got" ne "$exp";
    }
    return;
}


# ---- users and tokens -----------------------------------------------------------------

# Unique per run and per call, so a file can run any number of times against one stack.
sub unique_email {
    my $tag = shift // 'u';
    $SEQ++;
    return lc sprintf '%s-%d-%d-%s-%d@example.com', $tag, time, $$, random_hex(3), $SEQ;
}

# register_user(%opts) registers a customer (name, email, password may be given) and checks
# the 201; returns {id, name, email, password, res}.
sub register_user {
    my %o = @_;
    my $u = {
        name     => $o{name} // 'Usuaria de Prueba',
        email    => $o{email} // unique_email($o{tag}),
        password => $o{password} // 'clave-Segura-' . random_hex(4),
    };
    my $res = api('POST', '/api/auth/register',
        { name => $u->{name}, email => $u->{email}, password => $u->{password} });
    $u->{res} = $res;
    my $ok = ok($res->{status} == 201 && ref $res->{json} eq 'HASH'
        && defined $res->{json}{data}{user}{id}, "setup: register $u->{email}");
    diag(_show($res)) unless $ok;
    $u->{id} = $ok ? $res->{json}{data}{user}{id} : -1;
    return $u;
}

sub login {
    my ($email, $password, $headers) = @_;
    return api('POST', '/api/auth/login', { email => $email, password => $password }, $headers);
}

# login_ok($user): logs in and checks the 200; returns {token, refreshToken, sid, claims, res}.
sub login_ok {
    my ($u, $name) = @_;
    my $res = login($u->{email}, $u->{password});
    my $d = ref $res->{json} eq 'HASH' ? $res->{json}{data} : undef;
    my $ok = ok($res->{status} == 200 && ref $d eq 'HASH' && $d->{token} && $d->{refreshToken},
        $name // "setup: login $u->{email}");
    diag(_show($res)) unless $ok;
    return { res => $res, token => '', refreshToken => '', sid => '', claims => {} } unless $ok;
    my (undef, $claims) = decode_jwt($d->{token});
    $claims ||= {};
    return { res => $res, token => $d->{token}, refreshToken => $d->{refreshToken},
             sid => $claims->{sid} // '', claims => $claims };
}

sub refresh {
    my ($refresh_token) = @_;
    return api('POST', '/api/auth/refresh', { refreshToken => $refresh_token });
}


# ---- JWT ------------------------------------------------------------------------------

my $SECRET;

# The HS256 key of a stack that signs with one (FLORES_JWT_SECRET_FILE): the file's bytes with
# the trailing newline stripped.  The stacks of ./flores sign with ES256 (jwt_signing_key).
sub jwt_secret {
    return $SECRET if defined $SECRET;
    my $file = $ENV{FLORES_JWT_SECRET_FILE}
        or die "jwt_secret: this stack signs with ES256 keys (FLORES_JWT_SECRET_FILE is not set)";
    open my $fh, '<:raw', $file or die "cannot read FLORES_JWT_SECRET_FILE $file: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    $s =~ s/\r?\n\z//;
    return $SECRET = $s;
}

# jwt_signing_key(): (kid, private key file) of the key auth signs with now, read from
# FLORES_JWT_KEYS_DIR/keys.state ("<kid> <activate_at> <retired_at>" lines): the latest
# activate_at that has come, else the earliest (as the auth service chooses).
sub jwt_signing_key {
    my $dir = $ENV{FLORES_JWT_KEYS_DIR} or die "jwt_signing_key: FLORES_JWT_KEYS_DIR is not set";
    open my $fh, '<', "$dir/keys.state" or die "cannot read $dir/keys.state: $!";
    my (@keys, $now);
    $now = time;
    while (my $line = <$fh>) {
        push @keys, [$1, $2] if $line =~ /^(\S+) (\d+) (\d+)$/;
    }
    close $fh;
    die "jwt_signing_key: no key in $dir/keys.state" unless @keys;
    my ($best) = sort { $b->[1] <=> $a->[1] } grep { $_->[1] <= $now } @keys;
    ($best) = sort { $a->[1] <=> $b->[1] } @keys unless $best;
    return ($best->[0], "$dir/$best->[0].pem");
}

# ES256 with OpenSSL's command line: the DER signature it makes, as JWS wants it (r || s, 32
# bytes each), and back.
sub _es256_sign {
    my ($input, $pem) = @_;
    my $r = run_cmd(['openssl', 'dgst', '-sha256', '-sign', $pem, '-hex'], input => $input, timeout => 10);
    my ($hex) = $r->{out} =~ /=\s*([0-9a-f]+)\s*$/ or die "openssl dgst -sign $pem: $r->{text}";
    my $der = pack 'H*', $hex;
    my ($rl) = unpack 'x3 C', $der;
    my $rv = substr $der, 4, $rl;
    my $sl = ord substr $der, 4 + $rl + 1, 1;
    my $sv = substr $der, 4 + $rl + 2, $sl;
    my $fix = sub { my $v = shift; $v =~ s/^\0+//; return ("\0" x (32 - length $v)) . $v };
    return $fix->($rv) . $fix->($sv);
}

sub _es256_verify {
    my ($input, $sig, $pem) = @_;
    return 0 unless length $sig == 64;
    my $int = sub {
        my $v = shift;
        $v =~ s/^\0+//;
        $v = "\0$v" if !length $v || ord($v) & 0x80;
        return "\x02" . chr(length $v) . $v;
    };
    my $body = $int->(substr $sig, 0, 32) . $int->(substr $sig, 32);
    my $sf = File::Temp->new;
    binmode $sf;
    print {$sf} "\x30" . chr(length $body) . $body;
    close $sf;
    my $pub = run_cmd(['openssl', 'pkey', '-in', $pem, '-pubout'], timeout => 10);
    return 0 if $pub->{rc};
    my $pf = File::Temp->new;
    print {$pf} $pub->{out};
    close $pf;
    my $r = run_cmd(['openssl', 'dgst', '-sha256', '-verify', $pf->filename, '-signature', $sf->filename],
        input => $input, timeout => 10);
    return $r->{rc} == 0 && $r->{out} =~ /Verified OK/;
}

my %HMAC = (HS256 => \&hmac_sha256, HS384 => \&hmac_sha384, HS512 => \&hmac_sha512);

# mint_jwt(\%claims, %opts): a token with the stack's defaults (iss, aud, iat, exp in 5 min,
# jti, sid, role customer) overridden by %claims (undef deletes a claim), signed as auth signs
# (ES256 with the current key and its kid; HS256 on a stack with FLORES_JWT_ALG=HS256).  Options:
#   alg => 'ES256' | 'HS256' | 'HS384' | 'HS512' | 'none'   header alg and signing algorithm
#   key => $bytes                                 HS*: sign with another secret
#   pem => $file, kid => $kid                     ES256: sign with another private key / kid
#   bad_signature => 1                            flip a bit of the signature
#   header => \%extra                             extra or replaced header fields
#   bare => 1                                     no default claims at all
sub mint_jwt {
    my ($claims, %o) = @_;
    my $now = time;
    my %c = $o{bare} ? () : (
        iss  => 'flores-victoria',
        aud  => 'flores-victoria-api',
        iat  => $now,
        exp  => $now + 300,
        jti  => random_hex(16),
        sid  => random_hex(16),
        role => 'customer',
    );
    for my $k (keys %{ $claims || {} }) {
        if (defined $claims->{$k}) { $c{$k} = $claims->{$k} } else { delete $c{$k} }
    }
    my $alg = $o{alg} // $ENV{FLORES_JWT_ALG} // 'ES256';
    my ($kid, $pem);
    if ($alg eq 'ES256') {
        ($kid, $pem) = $o{pem} ? ($o{kid}, $o{pem}) : jwt_signing_key();
        $kid = $o{kid} if exists $o{kid};
    }
    my %hdr = (alg => $alg, typ => 'JWT', (defined $kid ? (kid => $kid) : ()), %{ $o{header} || {} });
    my $input = encode_base64url($JSON->encode(\%hdr)) . '.' . encode_base64url($JSON->encode(\%c));
    my $sig = '';
    if ($alg eq 'ES256') {
        $sig = _es256_sign($input, $pem);
    } elsif ($alg ne 'none') {
        my $f = $HMAC{$alg} or die "mint_jwt: unsupported alg $alg";
        $sig = $f->($input, $o{key} // jwt_secret());
    }
    if ($o{bad_signature}) {
        $sig = "\0" x 32 unless length $sig;
        substr($sig, 0, 1) = chr(ord(substr($sig, 0, 1)) ^ 0x01);
    }
    return "$input." . encode_base64url($sig);
}

# decode_jwt($token): (header, claims) without verifying anything; () when not a JWT.
sub decode_jwt {
    my $t = shift // '';
    my @p = split /\./, $t, -1;
    return () unless @p == 3;
    my $h = eval { $JSON->decode(decode_base64url($p[0])) };
    my $c = eval { $JSON->decode(decode_base64url($p[1])) };
    return () unless ref $h eq 'HASH' && ref $c eq 'HASH';
    return ($h, $c);
}

# verify_jwt($token): true when it is signed as the stack signs: ES256 by one of the stack's
# keys (its kid names the key file), or HS256 with the stack's secret on an HS256 stack.
sub verify_jwt {
    my $t = shift // '';
    my @p = split /\./, $t, -1;
    return 0 unless @p == 3;
    my ($h) = decode_jwt($t);
    return 0 unless $h;
    my $alg = $h->{alg} // '';
    if ($alg eq 'ES256' && ($ENV{FLORES_JWT_ALG} // 'ES256') eq 'ES256') {
        my $kid = $h->{kid} // '';
        return 0 unless $kid =~ /^[A-Za-z0-9_-]{1,64}\z/;
        my $pem = "$ENV{FLORES_JWT_KEYS_DIR}/$kid.pem";
        return 0 unless -f $pem;
        return _es256_verify("$p[0].$p[1]", decode_base64url($p[2]), $pem);
    }
    return 0 unless $alg eq 'HS256' && ($ENV{FLORES_JWT_ALG} // '') eq 'HS256';
    return encode_base64url(hmac_sha256("$p[0].$p[1]", jwt_secret())) eq $p[2];
}


# ---- commands -------------------------------------------------------------------------

# run_cmd(\@argv, input => $stdin, timeout => $s, env => \%extra): runs a command without a
# shell, bounded by timeout(1); returns {rc, out (stdout), err (stderr), text (both), ms}.
sub run_cmd {
    my ($argv, %o) = @_;
    my $timeout = $o{timeout} // 60;
    local %ENV = (%ENV, %{ $o{env} || {} });
    my @cmd = ('timeout', '-k', '5', $timeout, map { _bytes($_) } @$argv);
    my $t0 = now_ms();
    my $efh = File::Temp->new;
    my ($in, $out);
    my $pid = eval { open3($in, $out, '>&' . fileno($efh), @cmd) };
    return { rc => -1, out => '', err => "cannot run @$argv: $@", text => "cannot run @$argv: $@", ms => 0 }
        unless $pid;
    print {$in} _bytes($o{input}) if defined $o{input};
    close $in;
    my $text = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $err = do { local $/; open my $fh, '<', $efh->filename; <$fh> } // '';
    $text = Encode::decode('UTF-8', $text);
    $err = Encode::decode('UTF-8', $err);
    return { rc => $rc, out => $text, err => $err, text => $text . $err, ms => now_ms() - $t0 };
}

# redis_cmd(@args): redis-cli as the stack's administrator (FLORES_REDIS_URL names the user and
# the password; the password travels in the environment, never on a command line); its output.
sub redis_cmd {
    my ($user, $pass, $port) = ($ENV{FLORES_REDIS_URL} // '') =~ m{^redis://(?:([^:@/]+)(?::([^@/]*))?@)?[^:/]+:(\d+)};
    my $r = run_cmd(['redis-cli', '--no-auth-warning', (defined $user ? ('--user', $user) : ()),
        '-h', '127.0.0.1', '-p', $port, @_], env => { REDISCLI_AUTH => $pass // '' }, timeout => 10);
    chomp(my $out = $r->{out});
    return $out;
}

# The gateway key the services expect in FLORES_GATEWAY_KEY ('' when the stack has none).
sub gateway_key {
    my $file = $ENV{FLORES_GATEWAY_KEY_FILE} or return '';
    open my $fh, '<', $file or return '';
    chomp(my $k = <$fh> // '');
    return $k;
}

# Where a service listens (its unix socket in FLORES_SOCK_DIR).
sub service_socket { return "$ENV{FLORES_SOCK_DIR}/$_[0].sock" }

# ./flores on the same stack (FLORES_STACK_DIR, FLORES_PORT_BASE, FLORES_HTTP_PORT are in
# the environment).
sub flores {
    my @args = @_;
    my $timeout = $args[0] =~ /^(?:up|test)$/ ? 900 : 180;
    my $r = run_cmd(["$ROOT/flores", @args], timeout => $timeout);
    diag("./flores @args exited $r->{rc}:\n$r->{text}") if $r->{rc} != 0;
    return $r;
}

my %STOPPED;
my $STACK_DOWN = 0;
my @CLEANUP;

# cleanup(sub { ... }): run at exit, after the stack has been restored.
sub cleanup { push @CLEANUP, @_ }

# stop_component / start_component: the component is restarted by END if the file dies in
# between.
sub stop_component {
    my $c = shift;
    $STOPPED{$c} = 1;
    return flores('stop', $c);
}

sub start_component {
    my $c = shift;
    my $r = flores('start', $c);
    delete $STOPPED{$c} if $r->{rc} == 0;
    return $r;
}

sub stack_down {
    $STACK_DOWN = 1;
    return flores('down');
}

sub stack_up {
    my $r = flores('up', '--no-build');
    $STACK_DOWN = 0 if $r->{rc} == 0;
    return $r;
}

END {
    my $status = $?;
    alarm 0;
    if ($STACK_DOWN) {
        diag('restoring the stack: ./flores up --no-build');
        flores('up', '--no-build');
    }
    for my $c (sort keys %STOPPED) {
        diag("restoring $c: ./flores start $c");
        flores('start', $c);
    }
    for my $f (@CLEANUP) {
        eval { $f->(); 1 } or diag("cleanup failed: $@");
    }
    $? = $status;
}


# ---- SQL ------------------------------------------------------------------------------

# pg($sql, @params): runs one statement with psql; $1, $2, ... in $sql are bound as quoted
# literals (psql variables, never spliced as text).  Returns an array of rows (array
# references), or undef with a diagnostic on failure.
sub pg {
    my ($sql, @params) = @_;
    (my $q = $sql) =~ s/\$(\d+)/:'p$1'/g;
    my @argv = ('psql', $ENV{FLORES_PG_URL}, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
        '-F', "\x1f", '-R', "\x1e",
        (map { ('-v', 'p' . ($_ + 1) . '=' . $params[$_]) } 0 .. $#params), '-f', '-');
    my $r = run_cmd(\@argv, input => "$q\n", timeout => 20,
        env => { PGCONNECT_TIMEOUT => 3, PGCLIENTENCODING => 'UTF8' });
    if ($r->{rc} != 0) {
        diag("psql failed ($r->{rc}) on: $sql\n$r->{text}");
        return undef;
    }
    my $out = $r->{out};
    $out =~ s/\n\z//;
    return [] unless length $out;
    return [ map { s/\n\z//r } map { [ split /\x1f/, $_, -1 ] } split /\x1e/, $out ];
}

# The first column of the first row, or undef.
sub pg_value {
    my $rows = pg(@_);
    return undef unless $rows && @$rows;
    return $rows->[0][0];
}

# A data-only dump of one schema (to prove what is and is not stored).
sub pg_dump_schema {
    my $schema = shift;
    my $r = run_cmd(['pg_dump', '--data-only', "--schema=$schema", $ENV{FLORES_PG_URL}],
        timeout => 60, env => { PGCONNECT_TIMEOUT => 3 });
    if ($r->{rc} != 0) {
        diag("pg_dump failed: $r->{text}");
        return undef;
    }
    return $r->{out};
}


# ---- events ---------------------------------------------------------------------------

sub events_bin { return "$ENV{FLORES_BIN_DIR}/tools/events/flores-events" }

sub unique_queue {
    my $tag = shift // 'q';
    return sprintf 'flores.test.%s.%d.%s', $tag, $$, random_hex(4);
}

sub events_declare {
    my ($queue, $pattern) = @_;
    return run_cmd([events_bin(), 'declare', '--queue', $queue, '--bind', $pattern], timeout => 30);
}

sub events_delete {
    my ($queue) = @_;
    return run_cmd([events_bin(), 'delete', '--queue', $queue], timeout => 30);
}

# events_tail($queue, $count, $timeout): up to $count messages (decoded) taken from the queue
# within $timeout seconds; returns ($rc, \@messages, $raw_output).
sub events_tail {
    my ($queue, $count, $timeout) = @_;
    my $r = run_cmd([events_bin(), 'tail', '--queue', $queue, '--count', $count, '--timeout', $timeout],
        timeout => $timeout + 15);
    my @msgs;
    for my $line (split /\n/, $r->{out}) {
        next unless $line =~ /^\s*\{/;
        my $m = eval { $JSON->decode(Encode::encode('UTF-8', $line)) };
        push @msgs, $m if ref $m eq 'HASH';
    }
    return ($r->{rc}, \@msgs, $r->{out});
}


# ---- metrics and logs -----------------------------------------------------------------

# metric_sum($url, $name, \%labels): the sum of every sample of $name whose labels include
# %labels; undef when the page cannot be read.
sub metric_sum {
    my ($url, $name, $want) = @_;
    my $r = api('GET', $url);
    if ($r->{status} != 200) {
        diag("metrics unreadable: " . _show($r));
        return undef;
    }
    my $sum = 0;
    for my $line (split /\n/, $r->{raw}) {
        next unless $line =~ /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
        my ($n, $l, $v) = ($1, $2 // '', $3);
        next unless $n eq $name;
        my %l;
        $l{$1} = $2 while $l =~ /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
        next if grep { !defined $l{$_} || $l{$_} ne $want->{$_} } keys %$want;
        $sum += $v;
    }
    return $sum;
}

# The auth service's request counter for one route pattern.
sub auth_requests {
    my ($route) = @_;
    return metric_sum("$ENV{FLORES_INTERNAL_URL}/services/auth/metrics", 'flores_http_requests_total',
        { service => 'auth', route => $route });
}

# The auth service's log lines (decoded JSON) whose requestId is $id.
sub auth_log_lines {
    my ($id) = @_;
    my $file = "$ENV{FLORES_LOG_DIR}/auth.log";
    open my $fh, '<:raw', $file or return ();
    my @hits;
    while (my $line = <$fh>) {
        next unless index($line, $id) >= 0;
        my $j = eval { $JSON->decode($line) };
        push @hits, $j if ref $j eq 'HASH' && ($j->{requestId} // '') eq $id;
    }
    close $fh;
    return @hits;
}


# ---- log hygiene ----------------------------------------------------------------------
# Like nginx-tests: whatever a file did, no log of the stack may gain an nginx [alert] or
# [emerg], a PostgreSQL PANIC or a sanitizer report while it ran.

my %LOG_START;

sub _log_files {
    my @files;
    return @files unless -d $ENV{FLORES_LOG_DIR};
    File::Find::find({ no_chdir => 1, wanted => sub { push @files, $_ if -f $_ } },
        $ENV{FLORES_LOG_DIR});
    return @files;
}

$LOG_START{$_} = -s $_ for _log_files();

my $BAD_LOG = qr/\[(?:alert|emerg)\]|\bPANIC:|ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|
    \bruntime\ error:|SUMMARY:\ (?:Address|Leak|UndefinedBehavior)Sanitizer/x;

sub _log_hygiene_ok {
    my @bad;
    for my $f (sort(_log_files())) {
        my $start = $LOG_START{$f} // 0;
        my $size = -s $f;
        $start = 0 if $size < $start;    # recreated or truncated
        open my $fh, '<:raw', $f or next;
        seek $fh, $start, 0;
        while (my $line = <$fh>) {
            push @bad, "$f: $line" if $line =~ $BAD_LOG;
            last if @bad > 20;
        }
        close $fh;
    }
    my $ok = ok(!@bad, 'no alert, emerg, PANIC or sanitizer report in the stack logs');
    diag(join '', @bad) unless $ok;
    return $ok;
}

sub finish {
    _log_hygiene_ok();
    done_testing();
}


# ---- the block runner -----------------------------------------------------------------
# A test file is mostly a table of blocks, one request each, in the manner of Test::Nginx's
# "=== TEST n" sections.  Keys:
#   name         what the block shows
#   request      [METHOD, PATH, BODY] or sub { my $ctx = shift; [...] }
#   headers      {...} or sub { my $ctx = shift; {...} }
#   token        access token (string or sub returning one): sent as Authorization: Bearer
#   source       the client address (default: a fresh loopback address, see api())
#   setup        sub { my $ctx = shift; ... } run first
#   status       expected HTTP status
#   code         expected envelope code (4xx/5xx); without it a 2xx is checked as success
#   fields       the exact list of fields errors[] must name
#   headers_like {name => Regexp or string}
#   json         json_like() expectations on the whole body
#   max_ms       upper bound on the response time
#   untouched    route pattern: the auth service must not have seen the request (request
#                counter unchanged, no log line with the request id)
#   reaches      route pattern: the auth service must have answered it
#   then         sub { my ($res, $ctx) = @_; ... } more checks; may fill $ctx (a block
#                without request only runs this, with $res undef)
# Each block runs as one subtest named "TEST n: name".

sub run_blocks {
    my ($blocks, $ctx) = @_;
    $ctx //= {};
    my $n = 0;
    for my $b (@$blocks) {
        $n++;
        my $title = "TEST $n: $b->{name}";
        if ($b->{skip}) {
            SKIP: { skip "$title: $b->{skip}", 1 }
            next;
        }
        subtest $title => sub { _run_block($b, $ctx) };
    }
    return $ctx;
}

sub _resolve { my ($v, $ctx) = @_; return ref $v eq 'CODE' ? $v->($ctx) : $v }

sub _run_block {
    my ($b, $ctx) = @_;
    $b->{setup}->($ctx) if $b->{setup};
    if (!$b->{request}) {
        $b->{then}->(undef, $ctx);
        return;
    }
    my ($method, $path, $body) = @{ _resolve($b->{request}, $ctx) };
    my %h = %{ _resolve($b->{headers}, $ctx) || {} };
    if (defined $b->{token}) {
        my $t = _resolve($b->{token}, $ctx);
        $h{Authorization} = "Bearer $t";
    }
    my $watch = $b->{untouched} // $b->{reaches};
    my ($rid, $before);
    if (defined $watch) {
        $rid = $h{'X-Request-ID'} //= 'itest-' . random_hex(12);
        $before = auth_requests($watch);
    }

    my $res = api($method, $path, $body, \%h, { source => _resolve($b->{source}, $ctx) });
    $ctx->{last} = $res;

    if (defined $b->{status}) {
        if (defined $b->{code}) {
            envelope_ok($res, $b->{status}, $b->{code}, "$b->{status} $b->{code} in the envelope");
        } elsif ($b->{status} >= 200 && $b->{status} < 300 && !$b->{raw}) {
            success_ok($res, $b->{status}, "$b->{status} success envelope");
        } else {
            is($res->{status}, $b->{status}, "HTTP status $b->{status}") or diag(_show($res));
        }
    }
    errors_fields_ok($res, $b->{fields}) if $b->{fields};
    for my $name (sort keys %{ $b->{headers_like} || {} }) {
        my $want = $b->{headers_like}{$name};
        my $got = header($res, $name);
        if (ref $want eq 'Regexp') {
            like($got // '', $want, "header $name");
        } else {
            is($got, $want, "header $name");
        }
    }
    json_like($res->{json}, $b->{json}, 'body matches') if $b->{json};
    if (defined $b->{max_ms}) {
        cmp_ok($res->{ms}, '<', $b->{max_ms}, "answered in under $b->{max_ms} ms");
    }
    if (defined $b->{untouched}) {
        Time::HiRes::sleep(0.3);
        my $after = auth_requests($watch);
        ok(defined $before && defined $after && $after == $before,
            "the auth service did not count a request on $watch")
            or diag('counter before ' . ($before // 'unreadable') . ', after ' . ($after // 'unreadable'));
        my @lines = auth_log_lines($rid);
        ok(!@lines, "the auth service logged nothing for request $rid")
            or diag($JSON->encode(\@lines));
    }
    if (defined $b->{reaches}) {
        my $after = wait_for(3, sub { my $a = auth_requests($watch); defined $a && defined $before && $a > $before ? $a : 0 });
        ok($after, "the auth service counted the request on $watch")
            or diag('counter before ' . ($before // 'unreadable'));
        my @lines = wait_for(3, sub { my @l = auth_log_lines($rid); @l ? \@l : 0 });
        ok($lines[0], "the auth service logged request $rid");
    }
    $b->{then}->($res, $ctx) if $b->{then};
    return;
}

1;
