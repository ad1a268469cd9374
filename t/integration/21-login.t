#!/usr/bin/perl
# 21-login.t: POST /api/auth/login: the tokens it gives and their claims, case-insensitive
# emails, one answer for every failed login (unknown email and wrong password alike, in
# similar time), and what is kept in the database (hashes, never secrets).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $LOGIN = '/api/auth/login';
my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $J = JSON::PP->new->canonical;

my $u = register_user(name => 'Lucía Login', tag => 'login');
my %ctx;

# The body without its requestId, to compare two failures.
sub sans_request_id {
    my $j = shift;
    return 'not an object' unless ref $j eq 'HASH';
    my %c = %$j;
    delete $c{requestId};
    return $J->encode(\%c);
}

run_blocks([
    {
        # Protects: the documented answer of a login.
        name    => 'login answers tokens and the user',
        request => ['POST', $LOGIN, { email => $u->{email}, password => $u->{password} }],
        status  => 200,
        json    => { data => {
            token        => qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\z/,
            refreshToken => qr/^[A-Za-z0-9_-]{43,}\z/,      # >= 256 bits, opaque
            tokenType    => 'Bearer',
            expiresIn    => qr/^[1-9][0-9]*\z/,
            user         => { id => $u->{id}, name => 'Lucía Login', email => $u->{email},
                              role => 'customer', createdAt => $ISO,
                              password => ABSENT, passwordHash => ABSENT, password_hash => ABSENT },
        } },
        then    => sub { $ctx{first} = $_[0]{json}{data} },
    },
    {
        # Protects: the access token is the one the gateway expects, with every claim.
        name    => 'access token claims',
        then    => sub {
            my $d = $ctx{first} || {};
            my ($h, $c) = decode_jwt($d->{token});
            ok($h, 'the token decodes') or return;
            is($h->{alg}, 'ES256', 'alg ES256');
            is($h->{kid}, (jwt_signing_key())[0], 'kid names the key auth signs with');
            ok(verify_jwt($d->{token}), 'signed with that key of the stack');
            is($J->encode([$c->{sub}]), $J->encode(["$u->{id}"]), 'sub is the user id as a string');
            is($c->{email}, $u->{email}, 'email');
            is($c->{role}, 'customer', 'role');
            is($c->{iss}, 'flores-victoria', 'iss');
            is($c->{aud}, 'flores-victoria-api', 'aud');
            ok(defined $c->{iat} && abs($c->{iat} - time) < 120, 'iat is now');
            ok(defined $c->{exp} && defined $c->{iat} && $c->{exp} - $c->{iat} == ($d->{expiresIn} // -1),
                'exp - iat == expiresIn');
            like($c->{jti} // '', qr/\S{8,}/, 'jti');
            like($c->{sid} // '', qr/\S{8,}/, 'sid');
        },
    },
    {
        # Protects: emails are case-insensitive at login too.
        name    => 'login with the email in upper case',
        request => ['POST', $LOGIN, { email => uc $u->{email}, password => $u->{password} }],
        status  => 200,
        json    => { data => { user => { id => $u->{id} } } },
        then    => sub { $ctx{second} = $_[0]{json}{data} },
    },
    {
        # Protects: each login is its own session: new jti, sid and refresh token.
        name    => 'two logins are two sessions',
        then    => sub {
            my ($a1, $a2) = map { $_ || {} } @ctx{qw(first second)};
            my (undef, $c1) = decode_jwt($a1->{token});
            my (undef, $c2) = decode_jwt($a2->{token});
            $_ ||= {} for $c1, $c2;
            isnt($c1->{jti} // 'x', $c2->{jti} // 'x', 'different jti');
            isnt($c1->{sid} // 'x', $c2->{sid} // 'x', 'different sid');
            isnt($a1->{refreshToken} // 'x', $a2->{refreshToken} // 'x', 'different refresh tokens');
        },
    },
    {
        # Protects: secrets are never stored in clear: Argon2id hashes, hashed refresh tokens.
        name    => 'the database holds hashes only',
        then    => sub {
            my $hash = pg_value('SELECT password_hash FROM auth.users WHERE id = $1', $u->{id}) // '';
            like($hash, qr/^\$argon2id\$/, 'password stored as an Argon2id hash');
            my $dump = pg_dump_schema('auth') // '';
            ok(length $dump > 0, 'the auth schema dumps');
            ok(index($dump, $u->{password}) < 0, 'the password appears nowhere');
            for my $k (qw(first second)) {
                my $rt = ($ctx{$k} || {})->{refreshToken} // '';
                ok(length $rt && index($dump, $rt) < 0, "the $k refresh token appears nowhere");
            }
        },
    },
    {
        # Protects: wrong password, one answer.
        name    => 'wrong password is 401',
        request => ['POST', $LOGIN, { email => $u->{email}, password => $u->{password} . 'x' }],
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
        then    => sub { $ctx{wrong} = $_[0] },
    },
    {
        # Protects: no account enumeration through the body.
        name    => 'unknown email is the same 401, byte for byte apart from requestId',
        request => ['POST', $LOGIN, { email => unique_email('nobody'), password => $u->{password} }],
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
        then    => sub {
            my $res = shift;
            is(sans_request_id($res->{json}), sans_request_id($ctx{wrong}{json}), 'identical bodies');
            is(header($res, 'Content-Type'), header($ctx{wrong}, 'Content-Type'), 'identical Content-Type');
        },
    },
    {
        # Protects: no account enumeration through timing (a missing dummy hash makes unknown
        # emails answer many times faster).  Coarse on purpose: medians of 5, within 2x.
        name    => 'unknown email takes about as long as a wrong password',
        then    => sub {
            my (@unknown, @wrong);
            for (1 .. 5) {
                my $w = login($u->{email}, 'not-the-password-' . random_hex(2));
                push @wrong, $w->{ms} if $w->{status} == 401;
                my $n = login(unique_email('ghost'), 'not-the-password');
                push @unknown, $n->{ms} if $n->{status} == 401;
            }
            is(scalar @wrong + scalar @unknown, 10, 'all ten attempts were refused with 401');
            my ($mu, $mw) = (median(@unknown) // 0, median(@wrong) // 0);
            cmp_ok($mu, '>=', $mw / 2, sprintf('median unknown %.1f ms >= half median wrong %.1f ms', $mu, $mw));
        },
    },
    {
        # Protects: a deactivated account cannot log in; only its right password learns why
        # (documented: 403 ACCOUNT_DISABLED), a wrong one gets the usual 401.
        name    => 'deactivated account, right password: 403 ACCOUNT_DISABLED',
        setup   => sub {
            my $d = $ctx{disabled} = register_user(name => 'Dora Desactivada', tag => 'disabled');
            $ctx{dsession} = login_ok($d);
            is(scalar @{ pg('UPDATE auth.users SET active = false WHERE id = $1 RETURNING id', $d->{id}) || [] }, 1,
                'setup: account deactivated in the store');
        },
        request => sub { ['POST', $LOGIN, { email => $ctx{disabled}{email}, password => $ctx{disabled}{password} }] },
        status  => 403,
        code    => 'ACCOUNT_DISABLED',
    },
    {
        name    => 'deactivated account, wrong password: the usual 401',
        request => sub { ['POST', $LOGIN, { email => $ctx{disabled}{email}, password => 'no-es-la-clave' }] },
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
        then    => sub { is(sans_request_id($_[0]{json}), sans_request_id($ctx{wrong}{json}), 'identical to any failed login') },
    },
    {
        # Protects: a deactivated account's open sessions end too.
        name    => 'deactivated account: its refresh token is refused',
        request => sub { ['POST', '/api/auth/refresh', { refreshToken => $ctx{dsession}{refreshToken} }] },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    {
        # Protects: missing fields are validation errors, listed together.
        name    => 'empty object is 400 with both fields',
        request => ['POST', $LOGIN, {}],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(email password)],
    },
    {
        name    => 'wrong types are 400 with both fields',
        request => ['POST', $LOGIN, { email => 12345, password => JSON::PP::true }],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(email password)],
    },
    {
        name    => 'malformed JSON is 400 INVALID_JSON',
        request => ['POST', $LOGIN, '{"email": "a@b.cl", "password": '],
        status  => 400,
        code    => 'INVALID_JSON',
    },
]);

finish();
