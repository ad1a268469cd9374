#!/usr/bin/perl
# 60-tls.t: ./flores up --tls.  A stack of its own (run/deploy-tls, port base 29000) with a
# local CA: the public API over HTTPS (catalogue, register, login), HSTS on every HTTPS answer
# (the gateway's own errors included), none over plain HTTP; the plain port redirects with 308
# (method kept); TLS 1.2 and 1.3 accepted, TLS 1.0 and 1.1 refused by the server (a control
# server shows the client can speak them), weak TLS 1.2 suites refused, no session tickets;
# the certificate verifies against the CA (IP and name); the internal listener stays plain
# HTTP; restart keeps the certificate; down leaves no port open.  The stack is stopped and
# wiped at the end, also on failure.  FLORES_DEPLOY_PORT_BASE moves the port base (another
# stack on the machine uses 29000).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Run qw(run slurp);
use Cwd qw(abs_path);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;

my $ROOT  = abs_path("$FindBin::Bin/../..");
my $BASE  = $ENV{FLORES_DEPLOY_PORT_BASE} || 29000;
my $STACK = "$ROOT/run/deploy-tls";
my $HTTP  = $BASE + 80;
my $HTTPS = $BASE + 443;
my $INTERNAL = $BASE + 81;
my $CONTROL  = $BASE + 444;      # the openssl s_server that speaks TLS 1.1
my $JSON  = JSON::PP->new->utf8->canonical;

$ENV{FLORES_STACK_DIR} = $STACK;
$ENV{FLORES_PORT_BASE} = $BASE;
# Facts of another stack (its stack.env exported by the caller) must not leak into this one.
delete @ENV{qw(FLORES_HTTP_PORT FLORES_HTTPS_PORT FLORES_BUILD_DIR FLORES_ASAN FLORES_URL
               FLORES_JWT_SECRET_FILE FLORES_JWT_ALG FLORES_JWT_KEYS_DIR FLORES_JWKS_FILE
               FLORES_JWT_JWKS_FILE FLORES_JWT_KEY_ACTIVATION FLORES_SECRETS_DIR
               FLORES_GATEWAY_KEY_FILE FLORES_SOCK_DIR FLORES_INTERNAL_SOCKET PGPASSFILE)};
$ENV{LC_ALL} = 'C';

# ---- helpers --------------------------------------------------------------------------------

sub flores {
    my @args = @_;
    my $r = run(["$ROOT/flores", @args], timeout => $args[0] eq 'up' ? 1800 : 180);
    diag("./flores @args exited $r->{rc}:\n$r->{text}") if $r->{rc} != 0;
    return $r;
}

# curl: returns {status, headers (lower-case name => value), body, json, rc}.
sub curl {
    my ($method, $url, $body, @extra) = @_;
    my $hdr = File::Temp->new;
    my @cmd = ('curl', '-sS', '--max-time', '15', '-X', $method, '-D', $hdr->filename,
               '-o', '-', @extra);
    if (defined $body) {
        push @cmd, '-H', 'Content-Type: application/json', '--data-binary', $JSON->encode($body);
    }
    my $r = run([@cmd, $url], timeout => 30);
    my (%h, $status);
    open my $fh, '<', $hdr->filename or die;
    while (my $line = <$fh>) {
        $line =~ s/\r?\n\z//;
        if ($line =~ m{^HTTP/\S+ (\d+)}) { $status = $1; %h = (); next }   # the last answer
        $h{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    my $json = eval { $JSON->decode($r->{out}) };
    return { status => $status // 0, headers => \%h, body => $r->{out}, json => $json,
             rc => $r->{rc}, err => $r->{err} };
}

my $CA;
sub https { my ($m, $path, $b, @x) = @_; return curl($m, "https://127.0.0.1:$HTTPS$path", $b, '--cacert', $CA, @x) }

# openssl s_client with a client that allows every protocol and suite (SECLEVEL 0), so that
# a refusal comes from the server.  Returns {ok (handshake done), protocol, cipher, text}.
sub handshake {
    my ($port, @opts) = @_;
    my $r = run(['openssl', 's_client', '-connect', "127.0.0.1:$port", '-servername', 'localhost',
                 '-CAfile', $CA, '-verify_return_error', @opts], input => "", timeout => 15);
    # "Protocol :" is in the session block, which a TLS 1.3 client prints only once the
    # server's session ticket came; the "New, TLSv1.3, Cipher is" line is always there.
    my ($newproto, $cipher) = $r->{text} =~ /^New, (\S+), Cipher is (\S+)/m;
    my ($proto) = $r->{text} =~ /^\s*Protocol\s*:\s*(\S+)/m;
    $proto //= $newproto;
    return { ok => ($r->{rc} == 0 && defined $cipher && $cipher ne '(NONE)') ? 1 : 0,
             protocol => $proto // '', cipher => $cipher // '', text => $r->{text} };
}

sub port_open {
    my $port = shift;
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2);
    return $s ? 1 : 0;
}

sub env_file {
    my %e;
    open my $fh, '<', "$STACK/stack.env" or return %e;
    while (<$fh>) { $e{$1} = $2 if /^([A-Z_]+)=(.*)$/ }
    return %e;
}

sub wipe {
    return unless -d $STACK;
    flores('down');
    flores('reset');
    run(['rm', '-rf', $STACK]);
}

my $control_pid;
END {
    my $status = $?;
    if ($control_pid) { kill 'TERM', $control_pid; waitpid $control_pid, 0 }
    wipe();
    $? = $status;
}
$SIG{INT}  = sub { exit 130 };
$SIG{TERM} = sub { exit 143 };
alarm 1800;

# ---- the stack --------------------------------------------------------------------------------

wipe();     # what an interrupted earlier run left
for my $p ($HTTP, $HTTPS, $INTERNAL, $CONTROL) {
    BAIL_OUT("port $p is already in use: something else runs on base $BASE") if port_open($p);
}

my @build = -f "$ROOT/run/build/nginx-module/.libs/ngx_http_flores_module.so" ? ('--no-build') : ();
my $up = flores('up', @build, '--tls');
is($up->{rc}, 0, "./flores up --tls @build on base $BASE") or BAIL_OUT('the stack did not start');
like($up->{out}, qr{^Gateway: https://127\.0\.0\.1:$HTTPS\b}m, 'up prints the https URL');
like($up->{out}, qr{\Q$STACK\E/secrets/tls/ca\.crt}, 'up prints the CA to trust');

my %env = env_file();
is($env{FLORES_HTTPS_URL}, "https://127.0.0.1:$HTTPS", 'stack.env: FLORES_HTTPS_URL');
is($env{FLORES_TLS_CA}, "$STACK/secrets/tls/ca.crt", 'stack.env: FLORES_TLS_CA');
is($env{FLORES_URL}, "http://127.0.0.1:$HTTP", 'stack.env: FLORES_URL is still the plain port');
$CA = $env{FLORES_TLS_CA} // "$STACK/secrets/tls/ca.crt";
ok(-s $CA, 'the CA certificate exists');
my $key_mode = (stat "$STACK/secrets/tls/server.key")[2] // 0;
is(sprintf('%04o', $key_mode & 07777), '0600', 'the server key is mode 0600');

# ---- the certificate ------------------------------------------------------------------------

{
    my $v = run(['openssl', 'verify', '-CAfile', $CA, "$STACK/secrets/tls/server.crt"]);
    is($v->{rc}, 0, 'the server certificate verifies against the CA') or diag($v->{text});
    my $x = run(['openssl', 'x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage', '-in',
                 "$STACK/secrets/tls/server.crt"]);
    like($x->{out}, qr/IP Address:127\.0\.0\.1/, 'the certificate names 127.0.0.1');
    like($x->{out}, qr/DNS:localhost/, 'the certificate names localhost');
    like($x->{out}, qr/TLS Web Server Authentication/, 'the certificate is for servers');
    my $r = curl('GET', "https://localhost:$HTTPS/api/products?limit=1", undef, '--cacert', $CA);
    is($r->{status}, 200, 'https://localhost verifies (name checked by curl)') or diag($r->{err});
    $r = curl('GET', "https://127.0.0.1:$HTTPS/api/products?limit=1");
    isnt($r->{rc}, 0, 'without the CA curl refuses the certificate (it is not trusted by default)');
}

# ---- the API over HTTPS -----------------------------------------------------------------------

my $HSTS = qr/^max-age=63072000\z/;
{
    my $r = https('GET', '/api/products?limit=3');
    is($r->{status}, 200, 'catalogue list over HTTPS: 200');
    ok(ref $r->{json} eq 'HASH' && @{ $r->{json}{data}{products} // [] } == 3, 'three products')
        or diag($r->{body});
    like($r->{headers}{'strict-transport-security'} // '', $HSTS, 'catalogue: HSTS max-age=63072000');

    my $email = sprintf 'tls-%d-%d@example.com', time, $$;
    my $password = 'clave-Segura-' . $$;
    $r = https('POST', '/api/auth/register', { name => 'Cliente TLS', email => $email, password => $password });
    is($r->{status}, 201, 'register over HTTPS: 201') or diag($r->{body});
    like($r->{headers}{'strict-transport-security'} // '', $HSTS, 'register: HSTS');

    $r = https('POST', '/api/auth/login', { email => $email, password => $password });
    is($r->{status}, 200, 'login over HTTPS: 200') or diag($r->{body});
    my $token = ref $r->{json} eq 'HASH' ? $r->{json}{data}{token} // '' : '';
    ok(length $token, 'login gives a token');

    $r = https('GET', '/api/auth/me', undef, '-H', "Authorization: Bearer $token");
    is($r->{status}, 200, 'me with the token over HTTPS: 200') or diag($r->{body});
    is(ref $r->{json} eq 'HASH' ? $r->{json}{data}{user}{email} : '', $email, 'me is that user');

    # The shop's pages (their locations add headers of their own).
    if (-f "$ROOT/conf/nginx/storefront.conf") {
        $r = https('GET', '/');
        ok($r->{status} =~ /^(?:200|404)\z/, "storefront / over HTTPS: $r->{status}");
        like($r->{headers}{'strict-transport-security'} // '', $HSTS, 'storefront page: HSTS');
    }

    # The gateway's own answers: nginx's 404 envelope and the module's 401.
    $r = https('GET', '/api/no-such-thing');
    is($r->{status}, 404, 'unknown path over HTTPS: 404');
    like($r->{headers}{'strict-transport-security'} // '', $HSTS, "the gateway's 404 carries HSTS");
    $r = https('GET', '/api/auth/me');
    is($r->{status}, 401, 'me without a token: 401 from the gateway');
    like($r->{headers}{'strict-transport-security'} // '', $HSTS, "the gateway's 401 carries HSTS");
    $r = curl('POST', "https://127.0.0.1:$HTTPS/api/auth/login", undef, '--cacert', $CA,
              '-H', 'Content-Type: application/json', '--data-binary', '@' . big_file());
    is($r->{status}, 413, 'a body over 64 KiB: 413');
    like($r->{headers}{'strict-transport-security'} // '', $HSTS, "the gateway's 413 carries HSTS");
}

sub big_file {
    my $f = File::Temp->new(UNLINK => 1);
    print {$f} '{"x":"' . ('a' x 70000) . '"}';
    close $f;
    our @KEEP;
    push @KEEP, $f;
    return $f->filename;
}

# ---- every HTTPS location that adds headers repeats HSTS ------------------------------------
# nginx: a location with any add_header of its own inherits none of the server's, HSTS
# included.  The rendered configuration is read (quotes respected, includes inlined) and every
# location of the TLS server with an add_header must have Strict-Transport-Security too.

sub conf_parse {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    my $text = do { local $/; <$fh> };
    my $root = { head => '', items => [] };
    my @stack = ($root);
    my ($cur, $q) = ('', '');
    my @c = split //, $text;
    my $flush = sub { (my $s = $cur) =~ s/^\s+|\s+$//g; $s =~ s/\s+/ /g; $cur = ''; return $s };
    for (my $i = 0; $i < @c; $i++) {
        my $ch = $c[$i];
        if ($q) {
            $cur .= $ch;
            if ($ch eq '\\') { $cur .= $c[++$i] // ''; next }
            $q = '' if $ch eq $q;
            next;
        }
        if ($ch eq '#') { $i++ while $i < @c && $c[$i] ne "\n"; next }
        if ($ch eq '"' || $ch eq "'") { $q = $ch; $cur .= $ch; next }
        if ($ch eq ';') { my $s = $flush->(); push @{ $stack[-1]{items} }, $s if length $s; next }
        if ($ch eq '{') { my $b = { head => $flush->(), items => [] }; push @{ $stack[-1]{items} }, $b; push @stack, $b; next }
        if ($ch eq '}') { $flush->(); pop @stack if @stack > 1; next }
        $cur .= $ch;
    }
    return $root;
}

sub conf_expand {
    my ($b, $dir) = @_;
    my @items;
    for my $it (@{ $b->{items} }) {
        if (!ref $it && $it =~ /^include (\S+)$/) {
            my $pat = $1;
            $pat = "$dir/$pat" unless $pat =~ m{^/};
            push @items, @{ conf_expand(conf_parse($_), $dir)->{items} } for sort glob $pat;
        } else {
            push @items, ref $it ? conf_expand($it, $dir) : $it;
        }
    }
    return { head => $b->{head}, items => \@items };
}

{
    my $dir = "$STACK/nginx/conf";
    my $top = conf_expand(conf_parse("$dir/nginx.conf"), $dir);
    my (@bad, $checked, $tls_servers);
    my $walk;
    $walk = sub {
        my ($b, $tls) = @_;
        my @st = grep { !ref } @{ $b->{items} };
        if ($b->{head} =~ /^server\b/ && grep { /^listen \S+ ssl\b/ } @st) {
            $tls = 1;
            $tls_servers++;
        }
        if ($tls && $b->{head} =~ /^location\b/ && grep { /^add_header / } @st) {
            $checked++;
            push @bad, $b->{head} unless grep { /^add_header Strict-Transport-Security / } @st;
        }
        $walk->($_, $tls) for grep { ref } @{ $b->{items} };
    };
    $walk->($top, 0);
    is($tls_servers, 1, 'the rendered configuration has one TLS server');
    ok($checked, "locations of the TLS server with their own add_header: $checked");
    is_deeply(\@bad, [], 'every one of them adds Strict-Transport-Security as well')
        or diag("add 'add_header Strict-Transport-Security \$flores_hsts always;' to: @bad");
}

# ---- the plain port ---------------------------------------------------------------------------

{
    my $r = curl('GET', "http://127.0.0.1:$HTTP/api/products?limit=2&page=1");
    is($r->{status}, 308, 'plain HTTP GET: 308');
    is($r->{headers}{location}, "https://127.0.0.1:$HTTPS/api/products?limit=2&page=1",
       'Location: the same path and query over HTTPS');
    ok(!exists $r->{headers}{'strict-transport-security'}, 'no HSTS over plain HTTP');

    $r = curl('POST', "http://127.0.0.1:$HTTP/api/auth/login", { email => 'x@example.com', password => 'y' });
    is($r->{status}, 308, 'plain HTTP POST: 308 (the method is kept)');
    like($r->{headers}{location} // '', qr{^https://127\.0\.0\.1:$HTTPS/api/auth/login\z}, 'POST Location');

    # A client that follows the redirect repeats the POST over HTTPS.
    $r = curl('POST', "http://127.0.0.1:$HTTP/api/auth/login",
              { email => 'nadie@example.com', password => 'clave-Incorrecta-1' }, '-L', '--cacert', $CA);
    is($r->{status}, 401, 'following the 308: the POST reached the login over HTTPS (401 for a wrong password)')
        or diag($r->{body});

    $r = curl('GET', "http://127.0.0.1:$INTERNAL/metrics");
    is($r->{status}, 200, 'the internal listener stays plain HTTP (/metrics 200)');
    ok(!exists $r->{headers}{'strict-transport-security'}, 'no HSTS on the internal listener');
}

# ---- protocols and suites -----------------------------------------------------------------------

{
    my $h = handshake($HTTPS, '-tls1_3');
    ok($h->{ok} && $h->{protocol} eq 'TLSv1.3', "TLS 1.3 handshake ($h->{cipher})") or diag($h->{text});
    $h = handshake($HTTPS, '-tls1_2');
    ok($h->{ok} && $h->{protocol} eq 'TLSv1.2', "TLS 1.2 handshake ($h->{cipher})") or diag($h->{text});
    like($h->{cipher}, qr/^ECDHE-.*-(?:GCM-SHA\d+|CHACHA20-POLY1305)\z/, 'TLS 1.2: a forward-secret AEAD suite');
    unlike($h->{text}, qr/TLS session ticket:/, 'TLS 1.2: no session ticket issued');

    # The control: a server that allows TLS 1.1 accepts the same client, so a refusal below
    # is the gateway's.
    my $cert = "$STACK/secrets/tls/server.crt";
    my $key = "$STACK/secrets/tls/server.key";
    $control_pid = fork // die "fork: $!";
    if ($control_pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('openssl', 's_server', '-accept', "127.0.0.1:$CONTROL", '-cert', $cert, '-key', $key,
            '-min_protocol', 'TLSv1', '-max_protocol', 'TLSv1.1', '-cipher', 'DEFAULT:@SECLEVEL=0',
            '-www', '-naccept', '10') or POSIX::_exit(127);
        POSIX::_exit(127);
    }
    for (1 .. 50) { last if port_open($CONTROL); select undef, undef, undef, 0.1 }
    for my $old (['-tls1_1', 'TLSv1.1'], ['-tls1', 'TLSv1']) {
        my ($flag, $name) = @$old;
        my $c = handshake($CONTROL, $flag, '-cipher', 'DEFAULT:@SECLEVEL=0');
        ok($c->{ok} && $c->{protocol} eq $name, "control: the client completes a $name handshake with a server that allows it")
            or diag($c->{text});
        $h = handshake($HTTPS, $flag, '-cipher', 'DEFAULT:@SECLEVEL=0');
        ok(!$h->{ok}, "$name refused by the gateway") or diag($h->{text});
        like($h->{text}, qr/alert protocol version/, "$name: the gateway answered with a protocol_version alert");
    }
    kill 'TERM', $control_pid;
    waitpid $control_pid, 0;
    $control_pid = undef;

    for my $weak (qw(AES128-SHA256 ECDHE-RSA-AES128-SHA ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA)) {
        $h = handshake($HTTPS, '-tls1_2', '-cipher', "$weak:\@SECLEVEL=0");
        ok(!$h->{ok}, "TLS 1.2 with only $weak offered: refused") or diag($h->{text});
    }
}

# ---- status, restart, down ------------------------------------------------------------------

{
    my $st = flores('status');
    is($st->{rc}, 0, './flores status: everything answers') or diag($st->{out});
    like($st->{out}, qr/^nginx\s+running.*HTTPS :$HTTPS \d{3}/m, 'status checks the HTTPS port too');

    my $fp = run(['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', $CA])->{out};
    my $srv = run(['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', "$STACK/secrets/tls/server.crt"])->{out};
    is(flores('restart', 'nginx')->{rc}, 0, './flores restart nginx');
    my $r = https('GET', '/api/products?limit=1');
    is($r->{status}, 200, 'after the restart: still HTTPS with the same CA');
    is(run(['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', $CA])->{out}, $fp, 'the CA was made once');
    is(run(['openssl', 'x509', '-noout', '-fingerprint', '-sha256', '-in', "$STACK/secrets/tls/server.crt"])->{out},
       $srv, 'the server certificate was kept');

    is(flores('down')->{rc}, 0, './flores down');
    ok(!port_open($HTTPS), "nothing listens on $HTTPS after down");
    ok(!port_open($HTTP), "nothing listens on $HTTP after down");
}

done_testing();
