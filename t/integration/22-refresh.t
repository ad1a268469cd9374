#!/usr/bin/perl
# 22-refresh.t: POST /api/auth/refresh rotates refresh tokens; a rotated token presented
# again revokes its whole family and nothing else; expired, unknown and malformed tokens are
# refused; one token cannot be rotated twice, even concurrently.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use Digest::SHA qw(sha256_hex);
use POSIX ();

my $REFRESH = '/api/auth/refresh';
my $u = register_user(name => 'Renata Refresh', tag => 'refresh');
my %ctx = (s1 => login_ok($u), s2 => login_ok($u));

run_blocks([
    {
        # Protects: rotation answers a new pair, in the same session.
        name    => 'refresh rotates the token',
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{s1}{refreshToken} }] },
        status  => 200,
        json    => { data => {
            token        => qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\z/,
            refreshToken => sub { defined $_[0] && length $_[0] >= 43 && $_[0] ne $ctx{s1}{refreshToken} },
            tokenType    => 'Bearer',
            expiresIn    => qr/^[1-9][0-9]*\z/,
        } },
        then    => sub {
            my $d = $_[0]{json}{data} || {};
            $ctx{r2} = $d->{refreshToken};
            $ctx{t2} = $d->{token};
            my (undef, $c) = decode_jwt($d->{token});
            ok(verify_jwt($d->{token}), 'the new access token is signed by the stack');
            is(($c || {})->{sub}, "$u->{id}", 'for the same user');
            is(($c || {})->{sid}, $ctx{s1}{sid}, 'in the same session (sid)');
        },
    },
    {
        name    => 'the new access token works',
        request => ['GET', '/api/auth/me'],
        token   => sub { $ctx{t2} // '' },
        status  => 200,
        json    => { data => { user => { id => $u->{id} } } },
    },
    {
        # Protects: refreshing is what a client does when its access token has expired; many
        # clients still attach that expired token.  A public route must not refuse the
        # refresh because of it (else the client can never recover its session).
        name    => 'refresh while still sending the expired access token',
        setup   => sub { $ctx{s3} = login_ok($u) },
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{s3}{refreshToken} }] },
        token   => sub { mint_jwt({ sub => "$u->{id}", email => $u->{email}, iat => time - 1000, exp => time - 100 }) },
        status  => 200,
        json    => { data => { refreshToken => qr/\S/ } },
    },
    {
        # Protects: a refresh token is single-use.
        name    => 'the rotated token presented again is refused',
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{s1}{refreshToken} }] },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    {
        # Protects: reuse is taken as theft: the whole family dies, successor included.
        name    => 'the successor of the reused token is now refused too',
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{r2} // 'none' }] },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    {
        # Protects: ... and only that family: another login of the same user lives on.
        name    => 'another session of the same user still refreshes',
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{s2}{refreshToken} }] },
        status  => 200,
        json    => { data => { refreshToken => qr/\S/ } },
    },
    {
        # Protects: refresh tokens expire (expires_at moved into the past in the store).
        name    => 'an expired refresh token is refused',
        setup   => sub {
            my $s = login_ok($u);
            my $rows = pg(q{UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 minute'
                            WHERE token_hash = $1 RETURNING id}, sha256_hex($s->{refreshToken}));
            is(scalar @{ $rows || [] }, 1, 'setup: the token is stored under its SHA-256 and now expired');
            $ctx{expired} = $s->{refreshToken};
        },
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{expired} }] },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    {
        name    => 'an unknown refresh token is refused',
        request => ['POST', $REFRESH, { refreshToken => 'A' x 43 }],
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    (map {
        my ($what, $tok) = @$_;
        +{
            # Protects: tokens are looked up by exact hash, never spliced into SQL or matched
            # as a pattern.
            name    => "SQL metacharacters as the refresh token: $what",
            request => ['POST', $REFRESH, { refreshToken => $tok }],
            status  => 401,
            code    => 'INVALID_REFRESH_TOKEN',
        }
    } (['quote and comment', q{x'; DROP TABLE refresh_tokens; --}],
       ['percent', '%'],
       ['underscores', '_' x 43],
       ['backslash and unicode', q{\\'ñ🌸\\}])),
    {
        # Protects: access tokens are not refresh tokens.
        name    => 'an access token is not a refresh token',
        request => sub { ['POST', $REFRESH, { refreshToken => $ctx{s2}{token} }] },
        then    => sub {
            my $res = shift;
            ok($res->{status} == 401 || $res->{status} == 400, "refused (got $res->{status})");
        },
    },
    {
        name    => 'missing refreshToken is a validation error',
        request => ['POST', $REFRESH, {}],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['refreshToken'],
    },
    {
        name    => 'refreshToken of the wrong type is a validation error',
        request => ['POST', $REFRESH, { refreshToken => 12345 }],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['refreshToken'],
    },
    {
        name    => 'refreshToken over 256 characters is a validation error',
        request => ['POST', $REFRESH, { refreshToken => 'A' x 257 }],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['refreshToken'],
    },
    {
        # Protects: rotation is atomic: of several simultaneous uses of one token at most
        # one succeeds (two successes would fork the family).
        name    => 'concurrent refreshes of one token: at most one succeeds',
        then    => sub {
            my $s = login_ok($u);
            my @codes = parallel_refresh($s->{refreshToken}, 4);
            is(scalar @codes, 4, 'four answers') or diag("@codes");
            cmp_ok(scalar(grep { $_ == 200 } @codes), '<=', 1, "at most one 200 (@codes)");
            ok(!grep({ $_ != 200 && $_ != 401 } @codes), "the others are 401 (@codes)");
        },
    },
]);

# Forks $n clients that present $token at the same moment; returns their HTTP statuses.
sub parallel_refresh {
    my ($token, $n) = @_;
    my $start = time + 1;
    my @kids;
    for (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            $SIG{ALRM} = 'DEFAULT';
            alarm 30;
            select(undef, undef, undef, 0.01) while time < $start;
            my $res = api('POST', $REFRESH, { refreshToken => $token });
            print {$w} "$res->{status}\n";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [$pid, $r];
    }
    my @codes;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh>;
        close $fh;
        waitpid $k->[0], 0;
        push @codes, $1 if defined $line && $line =~ /^(\d+)/;
    }
    return @codes;
}

finish();
