#!/usr/bin/perl
# 86-password-reset-secrets.t: a mailed password-reset link is not kept in the database once
# the mail is on its way.  The token is stored hashed only; the mail.requested event that
# carried the link is a secret outbox row whose payload the relay replaced with
# {"redacted":true} after the broker confirmed it; a data dump of every service schema holds
# neither the token nor the link, while the link still works.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;
use Digest::SHA qw(sha256_hex);

my $LINK = qr{(https://floresvictoria\.cl/restablecer-clave#token=([A-Za-z0-9_-]{43}))(?![A-Za-z0-9_-])};
my @SCHEMAS = qw(auth users orders reviews mail);
my %ctx;

run_blocks([
    {
        name => 'setup: a user asks for a reset link, and the mail arrives',
        then => sub {
            $ctx{u} = register_user(tag => 'secret');
            success_ok(api('POST', '/api/auth/forgot-password', { email => $ctx{u}{email} }), 202,
                'forgot-password');
            my ($m) = wait_mails(30, sub { grep({ $_ eq $ctx{u}{email} } @{ $_[0]{rcpt} })
                && (mail_part($_[0], 'text/plain') // '') =~ $LINK }, 1);
            ok($m, 'the reset mail was delivered') or return;
            (mail_part($m, 'text/plain') // '') =~ $LINK;
            ($ctx{link}, $ctx{token}) = ($1, $2);
        },
    },
    {
        # Protects: the reset token lives hashed only (as refresh tokens do).
        name => 'the token is stored as its hash only',
        then => sub {
            is(pg_value('SELECT count(*) FROM auth.password_resets WHERE token_hash = $1',
                sha256_hex($ctx{token} // '')), 1, 'its SHA-256 is there');
        },
    },
    {
        # Protects: the outbox row that carried the link keeps it no longer than delivery.
        name => 'the mail.requested row is secret and redacted once published',
        then => sub {
            my $rows;
            ok(wait_for(15, sub {
                $rows = pg(q{SELECT secret, published_at IS NOT NULL, payload::text FROM auth.outbox }
                    . q{WHERE type = 'mail.requested' AND occurred_at >= }
                    . q{(SELECT created_at FROM auth.users WHERE id = $1)}, $ctx{u}{id}) || [];
                return @$rows == 1 && $rows->[0][1] eq 't';
            }, 0.2), 'one mail.requested row, published');
            is($rows->[0][0], 't', 'marked secret');
            is($rows->[0][2], '{"redacted": true}', 'its payload is {"redacted":true}');
        },
    },
    {
        # Protects: nothing anywhere in PostgreSQL gives the link back: a data dump of every
        # service schema holds neither the token nor the link (nor the user's address next
        # to a token-like string).
        name => 'no schema dump holds the token or the link',
        then => sub {
            for my $schema (@SCHEMAS) {
                my $dump = pg_dump_schema($schema);
                ok(defined $dump, "$schema dumped") or next;
                ok(index($dump, $ctx{token}) < 0, "$schema: no token");
                ok(index($dump, 'restablecer-clave#token=') < 0, "$schema: no reset link");
            }
        },
    },
    {
        # Protects: the redaction did not cost the user the link: it still resets the password.
        name => 'the mailed link still works',
        request => sub { ['POST', '/api/auth/reset-password',
                          { token => $ctx{token} // '', newPassword => 'nueva-Clave-' . random_hex(4) }] },
        status => 200,
        then => sub {
            # And the reset revoked the access tokens issued before it (the cutoff).
            cmp_ok(pg_value('SELECT tokens_valid_after FROM auth.users WHERE id = $1', $ctx{u}{id}) // 0, '>=',
                time, 'the reset set the revocation cutoff');
        },
    },
]);

finish();
