#!/usr/bin/perl
# 23-sessions.t: the authenticated auth endpoints: logout ends one session (only the caller's
# own), logout-all ends them all, me describes the caller, change-password keeps the caller's
# session and ends the others; JWKS publishes the public keys of the ES256 signing keys.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $WWW = 'Bearer realm="flores-victoria", error="invalid_token"';

my $u = register_user(name => 'Sofía Sesiones', tag => 'sess');
my $v = register_user(name => 'Víctor Vecino', tag => 'sess-v');
my $w = register_user(name => 'Walter Todas', tag => 'sess-w');
my $c = register_user(name => 'Clara Cambio', tag => 'sess-c');
my %ctx = (
    s1 => login_ok($u), s2 => login_ok($u), v1 => login_ok($v),
    w1 => login_ok($w), w2 => login_ok($w), w3 => login_ok($w),
    c1 => login_ok($c), c2 => login_ok($c),
);
# SQL metacharacters and unicode in the new password: stored as a hash, used literally.
my $newpw = q{nueva'; DROP TABLE users; -- %_\\ñ🌸-} . random_hex(4);

sub refresh_block {
    my ($name, $key, $status) = @_;
    return {
        name    => $name,
        request => sub { ['POST', '/api/auth/refresh', { refreshToken => $ctx{$key}{refreshToken} }] },
        status  => $status,
        ($status == 401 ? (code => 'INVALID_REFRESH_TOKEN') : ()),
        then    => sub {
            my $d = ref $_[0]{json} eq 'HASH' ? $_[0]{json}{data} : undef;
            $ctx{$key}{refreshToken} = $d->{refreshToken} if $status == 200 && ref $d eq 'HASH';
        },
    };
}

sub unauthenticated {
    my ($name, $path, $body) = @_;
    return {
        # Protects: the gateway guards the route; the service never sees anonymous calls.
        name         => $name,
        request      => ['POST', $path, $body],
        status       => 401,
        code         => 'UNAUTHORIZED',
        headers_like => { 'WWW-Authenticate' => $WWW },
        untouched    => $path,
    };
}

run_blocks([
    # ---- logout
    unauthenticated('logout needs an access token', '/api/auth/logout', { refreshToken => 'x' x 43 }),
    {
        name    => 'logout with the session refresh token',
        request => sub { ['POST', '/api/auth/logout', { refreshToken => $ctx{s1}{refreshToken} }] },
        token   => sub { $ctx{s1}{token} },
        status  => 200,
    },
    # Protects: logout really ends the session.
    refresh_block('the logged-out refresh token no longer works', 's1', 401),
    # Protects: ... and only that one.
    refresh_block('another session of the same user still refreshes', 's2', 200),
    {
        # Protects: nobody ends another user's session with a token they got hold of; the
        # answer is still 200 (nothing learnt about other sessions).
        name    => "logout with another user's refresh token answers 200",
        request => sub { ['POST', '/api/auth/logout', { refreshToken => $ctx{v1}{refreshToken} }] },
        token   => sub { $ctx{s2}{token} },
        status  => 200,
    },
    refresh_block("... and that user's session lives on", 'v1', 200),
    {
        # Protects: logout looks the token up exactly: a LIKE pattern revokes nothing.
        name    => 'logout with "%" as the refresh token answers 200',
        request => ['POST', '/api/auth/logout', { refreshToken => '%' }],
        token   => sub { $ctx{s2}{token} },
        status  => 200,
    },
    refresh_block('... and the caller\'s session lives on', 's2', 200),
    refresh_block('... and other users\' sessions too', 'v1', 200),
    {
        name    => 'logout without refreshToken is a validation error',
        request => ['POST', '/api/auth/logout', {}],
        token   => sub { $ctx{s2}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['refreshToken'],
    },

    # ---- logout-all
    unauthenticated('logout-all needs an access token', '/api/auth/logout-all', undef),
    {
        # Protects: logout-all counts and ends every session of the caller.
        name    => 'logout-all ends the three sessions',
        request => ['POST', '/api/auth/logout-all', undef],
        token   => sub { $ctx{w1}{token} },
        status  => 200,
        json    => { data => { revokedSessions => 3 } },
    },
    refresh_block('logout-all: first session refused', 'w1', 401),
    refresh_block('logout-all: second session refused', 'w2', 401),
    refresh_block('logout-all: third session refused', 'w3', 401),
    refresh_block("logout-all: other users' sessions live on", 's2', 200),

    # ---- me
    {
        name    => 'me describes the caller',
        request => ['GET', '/api/auth/me'],
        token   => sub { $ctx{v1}{token} },
        status  => 200,
        json    => { data => { user => {
            id => $v->{id}, name => 'Víctor Vecino', email => $v->{email}, role => 'customer',
            createdAt => $ISO, password => ABSENT, passwordHash => ABSENT, password_hash => ABSENT,
        } } },
    },

    # ---- change-password
    unauthenticated('change-password needs an access token', '/api/auth/change-password',
        { currentPassword => $c->{password}, newPassword => $newpw }),
    {
        # Protects: the current password is proven; a wrong one is a field error (not 401).
        name    => 'wrong currentPassword',
        request => ['POST', '/api/auth/change-password', { currentPassword => 'no-es-la-clave', newPassword => $newpw }],
        token   => sub { $ctx{c1}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['currentPassword'],
    },
    {
        name    => 'newPassword under 8 characters',
        request => ['POST', '/api/auth/change-password', { currentPassword => $c->{password}, newPassword => 'corta' }],
        token   => sub { $ctx{c1}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['newPassword'],
    },
    {
        name    => 'newPassword over 128 characters',
        request => ['POST', '/api/auth/change-password', { currentPassword => $c->{password}, newPassword => 'x' x 129 }],
        token   => sub { $ctx{c1}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['newPassword'],
    },
    {
        name    => 'both fields missing',
        request => ['POST', '/api/auth/change-password', {}],
        token   => sub { $ctx{c1}{token} },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(currentPassword newPassword)],
    },
    {
        name    => 'the failed attempts changed nothing',
        request => sub { ['POST', '/api/auth/login', { email => $c->{email}, password => $c->{password} }] },
        status  => 200,
        then    => sub { $ctx{c3} = { refreshToken => $_[0]{json}{data}{refreshToken} } },
    },
    {
        setup   => sub { $ctx{oldhash} = pg_value('SELECT password_hash FROM auth.users WHERE id = $1', $c->{id}) },
        name    => 'change-password succeeds',
        request => ['POST', '/api/auth/change-password', { currentPassword => $c->{password}, newPassword => $newpw }],
        token   => sub { $ctx{c1}{token} },
        status  => 200,
        then    => sub {
            my $h = pg_value('SELECT password_hash FROM auth.users WHERE id = $1', $c->{id}) // '';
            like($h, qr/^\$argon2id\$/, 'the new hash is Argon2id');
            isnt($h, $ctx{oldhash} // '', 'and differs from the old one');
        },
    },
    {
        name    => 'the old password no longer logs in',
        request => ['POST', '/api/auth/login', { email => $c->{email}, password => $c->{password} }],
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
    },
    {
        name    => 'the new password logs in',
        request => ['POST', '/api/auth/login', { email => $c->{email}, password => $newpw }],
        status  => 200,
        json    => { data => { user => { id => $c->{id} } } },
    },
    # Protects: a stolen session does not survive a password change ...
    refresh_block('the other session is revoked', 'c2', 401),
    refresh_block('the session opened before the change is revoked', 'c3', 401),
    # ... while the caller stays logged in.
    refresh_block("the caller's own session still refreshes", 'c1', 200),

    # ---- jwks
    {
        # Protects: the public halves of the signing keys are published, the private ones never.
        name    => 'jwks.json lists the signing key, public members only',
        request => ['GET', '/api/auth/.well-known/jwks.json'],
        status  => 200,
        raw     => 1,                  # a JWK set as RFC 7517 has it, not an envelope
        then    => sub {
            my $j = $_[0]{json} || {};
            my $keys = $j->{keys};
            ok(ref $keys eq 'ARRAY' && @$keys >= 1, 'at least one key') or return;
            my ($kid) = jwt_signing_key();
            my ($k) = grep { ($_->{kid} // '') eq $kid } @$keys;
            ok($k, 'the signing key is listed by its kid') or return;
            is($k->{kty}, 'EC', 'kty EC');
            is($k->{crv}, 'P-256', 'crv P-256');
            ok(!grep({ exists $_->{d} } @$keys), 'no private member d');
        },
    },
]);

finish();
