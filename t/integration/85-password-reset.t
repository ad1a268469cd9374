#!/usr/bin/perl
# 85-password-reset.t: forgot-password and reset-password.  The same answer, in about the same
# time, for known, unknown and deactivated emails; the mail and its link for a known one only;
# a token that works once, expires, is superseded by a newer one, and is refused for a
# deactivated account; a reset sets the password and signs the user out everywhere.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;
use Digest::SHA qw(sha256_hex);
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

my $F    = '/api/auth/forgot-password';
my $R    = '/api/auth/reset-password';
my $LINK = qr{https://floresvictoria\.cl/restablecer-clave#token=([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])};
my %ctx;

# The reset tokens mailed to $email so far, waiting for at least $count; oldest first, in the
# order the service created them (mails can arrive in any order).
sub links_for {
    my ($email, $count, $timeout) = @_;
    my @m = wait_mails($timeout // 30, sub { grep({ $_ eq $email } @{ $_[0]{rcpt} })
        && (mail_header($_[0], 'Subject') // '') =~ /Restablece tu contraseña/ }, $count);
    my %id = map { $_ => pg_value('SELECT id FROM auth.password_resets WHERE token_hash = $1', sha256_hex($_)) // 0 }
             map { (mail_part($_, 'text/plain') // '') =~ $LINK ? $1 : () } @m;
    return sort { $id{$a} <=> $id{$b} } keys %id;
}

sub forgot { return api('POST', $F, { email => $_[0] }) }
sub reset_with { return api('POST', $R, { token => $_[0], newPassword => $_[1] }) }

# What a client sees: status and body, the request id aside.
sub visible {
    my $res = shift;
    my $j = $res->{json};
    return "$res->{status} " . (ref $j ? JSON::PP->new->canonical->encode({ %$j, requestId => undef }) : $res->{raw});
}

sub invalid_token {
    my ($name, $token) = @_;
    return { name => $name, request => sub { ['POST', $R, { token => _t($token), newPassword => 'otra-Clave-1234' }] },
             status => 400, code => 'INVALID_RESET_TOKEN' };
}
sub _t { my $t = shift; return ref $t eq 'CODE' ? $t->() : $t }

run_blocks([
    {
        name  => 'setup: a user with a live session, a deactivated user',
        then  => sub {
            $ctx{u} = register_user(tag => 'reset');
            $ctx{s} = login_ok($ctx{u});
            $ctx{off} = register_user(tag => 'off');
            is(pg_value('UPDATE auth.users SET active = false WHERE id = $1 RETURNING 1', $ctx{off}{id}), 1,
                'deactivated');
            $ctx{unknown} = unique_email('nadie');
        },
    },

    # ---- validation
    { name => 'forgot: no email', request => ['POST', $F, {}], status => 400, code => 'VALIDATION_ERROR',
      fields => ['email'] },
    { name => 'forgot: not an email', request => ['POST', $F, { email => 'ana' }], status => 400,
      code => 'VALIDATION_ERROR', fields => ['email'] },
    { name => 'reset: nothing', request => ['POST', $R, {}], status => 400, code => 'VALIDATION_ERROR',
      fields => [qw(token newPassword)] },
    { name => 'reset: a new password of 7 characters', request => ['POST', $R, { token => 'x' x 43, newPassword => 'ñ' x 7 }],
      status => 400, code => 'VALIDATION_ERROR', fields => ['newPassword'] },
    { name => 'reset: a new password of 129 characters', request => ['POST', $R, { token => 'x' x 43, newPassword => 'p' x 129 }],
      status => 400, code => 'VALIDATION_ERROR', fields => ['newPassword'] },

    # ---- no account enumeration
    {
        # Protects: the answer does not tell whether an account exists (or is deactivated).
        name => 'the same answer for a known, an unknown and a deactivated email',
        then => sub {
            my $k = forgot($ctx{u}{email});
            my $u = forgot($ctx{unknown});
            my $d = forgot($ctx{off}{email});
            success_ok($k, 202, 'known: 202');
            is(visible($u), visible($k), 'unknown: identical status and body');
            is(visible($d), visible($k), 'deactivated: identical status and body');
            json_like($k->{json}, { data => {}, message => qr/\S/ }, 'empty data, a message');
        },
    },
    {
        # Protects: no enumeration by timing either.  Coarse on purpose: medians of 5.
        name => 'about the same time for known and unknown emails',
        then => sub {
            my (@known, @unknown);
            for (1 .. 5) {
                push @known, forgot($ctx{u}{email})->{ms};
                push @unknown, forgot($ctx{unknown})->{ms};
            }
            my ($mk, $mu) = (median(@known), median(@unknown));
            cmp_ok(abs($mk - $mu), '<', 60, sprintf('medians %.1f ms (known) and %.1f ms (unknown) within 60 ms', $mk, $mu));
            cmp_ok($mu, '>=', 140, 'an unknown email is not answered faster than the floor');
        },
    },
    {
        # Protects: only an active account gets a mail, with a working link.
        name => 'the mail goes to the known address only',
        then => sub {
            my @links = links_for($ctx{u}{email}, 6, 30);
            is(scalar @links, 6, 'six links for the six requests of the known email');
            is(scalar(wait_mails(2, sub { grep { $_ eq $ctx{unknown} || $_ eq $ctx{off}{email} } @{ $_[0]{rcpt} } }, 1)), 0,
                'none to the unknown or the deactivated email');
            $ctx{stale} = $links[0];
            $ctx{token} = $links[-1];
            my ($m) = wait_mails(1, sub { grep({ $_ eq $ctx{u}{email} } @{ $_[0]{rcpt} })
                && index(mail_part($_[0], 'text/plain') // '', $ctx{token}) >= 0 }, 1);
            is(mail_header($m, 'Subject'), 'Restablece tu contraseña de Flores Victoria', 'subject');
            is(mail_header($m, 'To'), "Usuaria de Prueba <$ctx{u}{email}>", 'To');
            like(mail_part($m, 'text/plain'), qr/30 minutos/, 'says how long it lasts');
            like(mail_part($m, 'text/html'), qr/href="https:\/\/floresvictoria\.cl\/restablecer-clave#token=\Q$ctx{token}\E"/,
                'the HTML link');
        },
    },
    {
        # Protects: tokens are stored hashed; only the newest one is usable.
        name => 'stored as hashes, only the newest open',
        then => sub {
            is(pg_value('SELECT count(*) FROM auth.password_resets WHERE token_hash = $1', sha256_hex($ctx{token})), 1,
                'the hash of the mailed token is stored');
            is(pg_value('SELECT count(*) FROM auth.password_resets WHERE token_hash = $1 OR token_hash = $2',
                $ctx{token}, substr($ctx{token}, 0, 43)), 0, 'the token itself is not');
            is(pg_value('SELECT count(*) FROM auth.password_resets WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL',
                $ctx{u}{id}), 1, 'one open token for the user');
            # The rows are secret: once published their payload (the link) is redacted, so they
            # are counted by time rather than by address.
            is(pg_value('SELECT count(*) FROM auth.outbox WHERE type = $1 AND secret AND occurred_at >= '
                . '(SELECT created_at FROM auth.users WHERE id = $2)', 'mail.requested', $ctx{u}{id}), 6,
                'one mail.requested per request, through the outbox');
        },
    },

    # ---- tokens that do not work
    invalid_token('a superseded token', sub { $ctx{stale} }),
    invalid_token('an unknown token', 'A' x 43),
    invalid_token('SQL metacharacters', q{' OR '1'='1' --}),
    invalid_token('the hash instead of the token', sub { sha256_hex($ctx{token}) }),

    # ---- the reset
    {
        # Protects: the password changes and every session ends.
        name    => 'the newest token resets the password',
        request => sub { ['POST', $R, { token => $ctx{token}, newPassword => ($ctx{newpw} = 'Nueva-clave-' . random_hex(3)) }] },
        status  => 200,
        json    => { data => { revokedSessions => sub { $_[0] >= 1 } } },
    },
    invalid_token('the same token again', sub { $ctx{token} }),
    {
        name    => 'the old password no longer works',
        request => sub { ['POST', '/api/auth/login', { email => $ctx{u}{email}, password => $ctx{u}{password} }] },
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
    },
    {
        name    => 'the session from before is revoked',
        request => sub { ['POST', '/api/auth/refresh', { refreshToken => $ctx{s}{refreshToken} }] },
        status  => 401,
        code    => 'INVALID_REFRESH_TOKEN',
    },
    {
        name    => 'the new password works',
        request => sub { ['POST', '/api/auth/login', { email => $ctx{u}{email}, password => $ctx{newpw} }] },
        status  => 200,
    },

    # ---- expiry
    {
        name => 'a fresh token, expired in the database',
        then => sub {
            success_ok(forgot($ctx{u}{email}), 202, 'forgot-password');
            my @links = links_for($ctx{u}{email}, 7, 30);
            $ctx{expired} = $links[-1];
            is(pg_value(q{UPDATE auth.password_resets SET expires_at = now() - interval '1 second' WHERE token_hash = $1 RETURNING 1},
                sha256_hex($ctx{expired} // '')), 1, 'expires_at moved into the past');
        },
    },
    invalid_token('an expired token', sub { $ctx{expired} }),

    # ---- a deactivated account
    {
        name => 'a token issued before the account was deactivated',
        then => sub {
            success_ok(forgot($ctx{u}{email}), 202, 'forgot-password');
            my @links = links_for($ctx{u}{email}, 8, 30);
            $ctx{late} = $links[-1];
            pg_value('UPDATE auth.users SET active = false WHERE id = $1 RETURNING 1', $ctx{u}{id});
        },
    },
    invalid_token('does not work once it is deactivated', sub { $ctx{late} }),

    # ---- the gateway's limit
    {
        # Protects: reset mails cannot be used to flood someone: 10 per 15 minutes per address.
        name => 'the eleventh forgot-password from one address within 15 minutes is refused',
        then => sub {
            my $src = next_source_address();
            my @st = map { api('POST', $F, { email => $ctx{unknown} }, undef, { source => $src })->{status} } 1 .. 10;
            is(join(',', @st), join(',', (202) x 10), 'ten accepted');
            my $res = api('POST', $F, { email => $ctx{unknown} }, undef, { source => $src });
            envelope_ok($res, 429, 'RATE_LIMITED', 'the eleventh: 429');
            like(header($res, 'RateLimit-Policy') // '', qr/"forgot_password";q=10;w=900/, 'the forgot_password policy');
        },
    },

    # ---- a race
    {
        # Protects: of two requests with one token, exactly one resets the password.
        name => 'two resets racing with one token: exactly one wins',
        then => sub {
            my $v = register_user(tag => 'race');
            success_ok(forgot($v->{email}), 202, 'forgot-password');
            my ($token) = links_for($v->{email}, 1, 30);
            my @kids;
            for my $i (1 .. 2) {
                pipe(my $rd, my $wr) or die "pipe: $!";
                my $pid = fork // die "fork: $!";
                if ($pid == 0) {
                    close $rd;
                    my $res = reset_with($token, "Carrera-$i-" . random_hex(3));
                    print {$wr} $res->{status};
                    close $wr;
                    POSIX::_exit(0);
                }
                close $wr;
                push @kids, [$pid, $rd];
            }
            my @status;
            for my $k (@kids) {
                my $fh = $k->[1];
                my $s = <$fh> // '';
                waitpid $k->[0], 0;
                push @status, $s;
            }
            is(join(',', sort @status), '200,400', 'one 200 and one 400');
        },
    },
]);

finish();
