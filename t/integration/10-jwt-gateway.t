#!/usr/bin/perl
# 10-jwt-gateway.t: the gateway validates access tokens on /api/auth/me before the auth
# service sees the request; refused tokens never reach it, accepted ones carry their
# identity, and identity headers sent by clients are never believed.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use File::Temp ();

my $alice = register_user(name => 'Alicia Gateway', tag => 'jwt-a');
my $bruno = register_user(name => 'Bruno Gateway', tag => 'jwt-b');

my $ME = '/api/auth/me';
my $WWW = 'Bearer realm="flores-victoria", error="invalid_token"';
my $now = time;

# A valid token for $alice, except for what a block changes.
sub tok { my ($claims, %o) = @_; return mint_jwt({ sub => "$alice->{id}", email => $alice->{email}, %{ $claims || {} } }, %o) }

# A P-256 key of nobody's (the attacker's own), and the public half of the stack's signing key:
# what an attacker may try to sign with.
my ($KID, $PEM) = jwt_signing_key();
my $OTHER = File::Temp->new(SUFFIX => '.pem');
run_cmd(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-out', $OTHER->filename])->{rc} == 0 or die 'openssl genpkey failed';
my $PUBLIC = run_cmd(['openssl', 'pkey', '-in', $PEM, '-pubout'])->{out};

# Every refusal: 401 UNAUTHORIZED in the envelope, the challenge header, the service untouched.
sub refused {
    my ($name, %b) = @_;
    return {
        name         => $name,
        request      => ['GET', $ME],
        status       => 401,
        code         => 'UNAUTHORIZED',
        headers_like => { 'WWW-Authenticate' => $WWW },
        untouched    => $ME,
        %b,
    };
}

run_blocks([
    # Protects: a protected route is never anonymous.
    refused('no Authorization header'),
    refused('Bearer without a token', headers => { Authorization => 'Bearer ' }),
    refused('another scheme (Basic)', headers => { Authorization => 'Basic YWxpY2lhOnNlY3JldA==' }),
    refused('token without the Bearer scheme', headers => sub { { Authorization => tok() } }),

    # Protects: the parser refuses what is not a compact JWS.
    refused('malformed: one segment', token => 'not-a-jwt'),
    refused('malformed: two segments', token => 'abc.def'),
    refused('malformed: garbage segments', token => 'a.b.c'),
    refused('malformed: header is not JSON', token => sub {
        my $t = tok();
        $t =~ s/^[^.]+/bm90LWpzb24/;
        $t;
    }),

    # Protects: the signature is checked with the stack's key.
    refused('bad signature', token => sub { tok({}, bad_signature => 1) }),
    refused('signed with another key under the right kid', token => sub { tok({}, pem => $OTHER->filename, kid => $KID) }),
    refused('signed with another key, no kid', token => sub { tok({}, pem => $OTHER->filename, kid => undef) }),
    refused('an unknown kid', token => sub { tok({}, kid => 'not-a-key-of-ours') }),
    refused('claims changed after signing', token => sub {
        my $t = tok();
        my @p = split /\./, $t;
        my $forged = tok({ role => 'admin' });
        my @f = split /\./, $forged;
        "$p[0].$f[1].$p[2]";
    }),

    # Protects: the algorithm is pinned (no alg none, no algorithm switching).
    refused('alg none without signature', token => sub { tok({}, alg => 'none') }),
    refused('alg none with a signature', token => sub {
        my $good = tok();
        my $none = tok({}, alg => 'none');
        (split /\./, $none)[0] . '.' . (split /\./, $none)[1] . '.' . (split /\./, $good)[2];
    }),
    refused('alg None (other spelling)', token => sub { tok({}, alg => 'none', header => { alg => 'None' }) }),
    # Algorithm confusion: HMAC keyed with the public key everyone can fetch.
    refused('HS256 keyed with the public key', token => sub { tok({}, alg => 'HS256', key => $PUBLIC) }),
    refused('HS512 keyed with the public key', token => sub { tok({}, alg => 'HS512', key => $PUBLIC) }),
    refused('HS384 keyed with the public key', token => sub { tok({}, alg => 'HS384', key => $PUBLIC) }),

    # Protects: time claims, beyond the leeway.
    refused('expired an hour ago', token => sub { tok({ iat => $now - 7200, exp => $now - 3600 }) }),
    refused('expired 5 minutes ago', token => sub { tok({ iat => $now - 1200, exp => $now - 300 }) }),
    refused('not valid before an hour from now', token => sub { tok({ nbf => $now + 3600 }) }),

    # Protects: iss and aud are required and must match.
    refused('wrong issuer', token => sub { tok({ iss => 'someone-else' }) }),
    refused('no issuer', token => sub { tok({ iss => undef }) }),
    refused('wrong audience', token => sub { tok({ aud => 'another-api' }) }),
    refused('no audience', token => sub { tok({ aud => undef }) }),
    refused('audience list without ours', token => sub { tok({ aud => ['another-api', 'x'] }) }),

    {
        # Protects: a valid token reaches the service, which answers for its subject (and the
        # untouched checks above would have seen a request: this is their positive control).
        name    => 'valid minted token for a real user reaches the service',
        request => ['GET', $ME],
        token   => sub { tok() },
        status  => 200,
        reaches => $ME,
        json    => { data => { user => { id => $alice->{id}, email => $alice->{email}, role => 'customer' } } },
    },
    {
        # Protects: identity comes from the token only; client identity headers are dropped.
        name    => 'X-User-Id / X-User-Role / X-User-Email of another user are ignored',
        request => ['GET', $ME],
        token   => sub { tok() },
        headers => { 'X-User-Id' => "$bruno->{id}", 'X-User-Role' => 'admin', 'X-User-Email' => $bruno->{email} },
        status  => 200,
        json    => { data => { user => { id => $alice->{id}, email => $alice->{email}, role => 'customer' } } },
    },
    refused('X-User-Id and X-User-Role without a token',
        headers => { 'X-User-Id' => "$bruno->{id}", 'X-User-Role' => 'admin' }),
    {
        # Protects: a token the auth service issued is accepted by the gateway.
        name    => 'token from a real login',
        setup   => sub { $_[0]{login} = login_ok($bruno) },
        request => ['GET', $ME],
        token   => sub { $_[0]{login}{token} },
        status  => 200,
        json    => { data => { user => { id => $bruno->{id}, email => $bruno->{email} } } },
    },
]);

finish();
