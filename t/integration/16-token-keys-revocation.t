#!/usr/bin/perl
# 16-token-keys-revocation.t: the gateway and auth agree on keys and on revocations, end to end.
#
#   - `./flores keys rotate` publishes a new ES256 key and reloads the gateway at once: tokens of
#     the old key keep working, a token of the new key is accepted before auth signs with it,
#     and auth signs with it FLORES_JWT_KEY_ACTIVATION (5) seconds later; no request is refused
#     while that happens.  Once the old key is dropped (`keys prune`), its tokens are refused.
#   - An access token is refused by the gateway one second after logout-all, a password change
#     or a demotion (auth pushes the cutoff to the revocation zone), on routes of every service;
#     a token issued after the cutoff is accepted; the refusal survives `nginx -s reload`, and a
#     restarted gateway gets the cutoffs back from auth's re-push within ten seconds.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();
use JSON::PP ();

my $STACK = $ENV{FLORES_STACK_DIR} or BAIL_OUT('FLORES_STACK_DIR is not set');
my $ADMIN_ID = 810_000_000 + int(rand(90_000_000));
my %ctx;

sub me { return api('GET', '/api/auth/me', undef, bearer($_[0]))->{status} }
sub cart { return api('GET', '/api/cart', undef, bearer($_[0]))->{status} }

# The kids of the JWK set the gateway reads (flores_jwt_jwks_file).
sub kids_of_jwks {
    open my $fh, '<', $ENV{FLORES_JWKS_FILE} or return [];
    local $/;
    my $j = eval { JSON::PP->new->decode(scalar <$fh>) } || {};
    return [ map { $_->{kid} } @{ $j->{keys} || [] } ];
}

sub www_authenticate { return $_[0]{headers}{'www-authenticate'} // '' }

sub nginx_master {
    open my $fh, '<', "$STACK/pid/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

run_blocks([
    # ---- keys ---------------------------------------------------------------------------
    {
        name => 'before the rotation: a session on the current key',
        then => sub {
            ($ctx{old_kid}) = jwt_signing_key();
            $ctx{u} = register_user(tag => 'keys');
            $ctx{s} = login_ok($ctx{u});
            my ($h) = decode_jwt($ctx{s}{token});
            is($h->{kid}, $ctx{old_kid}, 'the token names the current key');
            is(me($ctx{s}{token}), 200, 'accepted');
        },
    },
    {
        # Protects: a rotated-in key is known to the gateway before auth signs with it, and
        # nobody is refused while the keys change.
        name => 'keys rotate: both keys accepted, the new one signs after the activation delay',
        then => sub {
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                # Requests all through the rotation: every answer must be 200.
                my ($bad, $n) = (0, 0);
                my $until = time + 9;
                while (time < $until) {
                    my $t = mint_jwt({ sub => "$ctx{u}{id}", email => $ctx{u}{email} });
                    my $s = me($t);
                    $n++;
                    $bad++ if $s != 200;
                    $bad++ if me($ctx{s}{token}) != 200;
                    sleep 0.05;
                }
                POSIX::_exit($bad ? 1 : ($n ? 0 : 2));
            }
            my $r = flores('keys', 'rotate');
            is($r->{rc}, 0, './flores keys rotate') or diag($r->{text});
            my ($new) = grep { $_ ne $ctx{old_kid} } @{ kids_of_jwks() };
            ok($new, 'the JWK set has a second key at once') or return;
            $ctx{new_kid} = $new;
            my $t = mint_jwt({ sub => "$ctx{u}{id}", email => $ctx{u}{email} },
                pem => "$ENV{FLORES_JWT_KEYS_DIR}/$new.pem", kid => $new);
            is(me($t), 200, 'a token of the new key is accepted before auth signs with it (keys rotate has reloaded the gateway)');
            is(me($ctx{s}{token}), 200, 'the old key\'s token is still accepted');
            my $s1 = login_ok($ctx{u});
            my ($h1) = decode_jwt($s1->{token});
            is($h1->{kid}, $ctx{old_kid}, 'auth still signs with the old key right after the rotation');
            my $later = wait_for(12, sub {
                my $s = login($ctx{u}{email}, $ctx{u}{password});
                my ($h) = decode_jwt(($s->{json}{data} || {})->{token});
                return $h && ($h->{kid} // '') eq $new ? $s->{json}{data} : undef;
            }, 0.5);
            ok($later, 'auth signs with the new key once it is active') or return;
            is(me($later->{token}), 200, 'and the gateway accepts it');
            $ctx{fresh} = $later;
            waitpid $pid, 0;
            is($? >> 8, 0, 'no request was refused during the rotation');
        },
    },
    {
        # Protects: a key that is gone from the JWK set signs nothing the gateway accepts.
        name => 'keys prune: the old key dropped, its tokens refused, the new one\'s accepted',
        then => sub {
            # The old key retired when the new one became active; a token lifetime of 30 s (the
            # shortest flores-admin takes, an override for this test) lets prune drop it half a
            # minute later instead of 16 minutes.
            my $retired = 0;
            if (open my $fh, '<', "$ENV{FLORES_JWT_KEYS_DIR}/keys.state") {
                while (<$fh>) { $retired = $1 if /^\Q$ctx{old_kid}\E \d+ (\d+)$/ }
            }
            ok($retired > 0, 'keys.state says when the old key retired') or return;
            sleep 0.5 while time < $retired + 31;
            my $r = run_cmd([ROOT() . '/flores', 'keys', 'prune'],
                env => { FLORES_ACCESS_TTL => 30, FLORES_JWT_LEEWAY => 0 }, timeout => 60);
            is($r->{rc}, 0, './flores keys prune') or diag($r->{text});
            is_deeply(kids_of_jwks(), [ $ctx{new_kid} ], 'only the new key is published');
            ok(!-e "$ENV{FLORES_JWT_KEYS_DIR}/$ctx{old_kid}.pem", 'the old private key is deleted');
            my $res = api('GET', '/api/auth/me', undef, bearer($ctx{s}{token}));
            is($res->{status}, 401, 'a token of the removed key is refused');
            like(www_authenticate($res), qr/invalid_token/, 'as an invalid token');
            is(me($ctx{fresh}{token}), 200, 'a token of the new key is accepted');
        },
    },

    # ---- revocation ---------------------------------------------------------------------
    {
        # Protects: logout-all ends every access token of the user within a second, wherever
        # it is used, and not the next login's.
        name => 'logout-all: earlier tokens refused by the gateway within a second',
        then => sub {
            $ctx{v} = register_user(tag => 'revoke-gw');
            my $a = login_ok($ctx{v});
            my $b = login_ok($ctx{v});
            is(me($a->{token}), 200, 'accepted before');
            is(cart($b->{token}), 200, 'the cart too');
            my $t0 = time;
            success_ok(api('POST', '/api/auth/logout-all', {}, bearer($a->{token})), 200, 'logout-all');
            sleep 1;
            my $res = api('GET', '/api/auth/me', undef, bearer($a->{token}));
            is($res->{status}, 401, 'the token used for it is refused 1 s later');
            like(www_authenticate($res), qr/token revoked/, 'WWW-Authenticate says it was revoked');
            is(cart($b->{token}), 401, "the other session's token is refused by the cart's route too");
            my $n = login_ok($ctx{v});
            is(me($n->{token}), 200, 'a login after the cutoff is accepted');
            $ctx{revoked} = $b->{token};
            $ctx{after} = $n->{token};
        },
    },
    {
        # Protects: the revocation zone is kept across a reload.
        name => 'nginx -s reload keeps the revocations',
        then => sub {
            my $master = nginx_master();
            ok($master && kill('HUP', $master), 'HUP to the gateway') or return;
            sleep 1.5;
            is(me($ctx{revoked}), 401, 'still refused after the reload');
            is(me($ctx{after}), 200, 'the later token still accepted');
        },
    },
    {
        # Protects: a gateway that lost its memory (restart) learns the cutoffs again from
        # auth within its re-push period.
        name => 'a restarted gateway refuses the revoked token again within 10 s',
        then => sub {
            my $r = flores('restart', 'nginx');
            is($r->{rc}, 0, './flores restart nginx') or return;
            my $refused = wait_for(12, sub { me($ctx{revoked}) == 401 }, 0.5);
            ok($refused, 'refused again') or diag('still accepted 12 s after the restart');
            is(me($ctx{after}), 200, 'the later token accepted');
        },
    },
    {
        # Protects: a password change ends the earlier tokens too.
        name => 'change-password: earlier tokens refused',
        then => sub {
            my $w = register_user(tag => 'revoke-pw');
            my $s = login_ok($w);
            my $other = login_ok($w);
            success_ok(api('POST', '/api/auth/change-password',
                { currentPassword => $w->{password}, newPassword => 'Otra-Clave-Segura-9' },
                bearer($s->{token})), 200, 'change-password');
            sleep 1;
            is(me($other->{token}), 401, "another session's access token is refused");
        },
    },
    {
        # Protects: a demoted administrator's admin token stops working at once.
        name => 'demotion: the admin token refused',
        then => sub {
            my $adm = mint_jwt({ sub => "$ADMIN_ID", role => 'admin', email => "rev$ADMIN_ID\@example.com" });
            my $x = register_user(tag => 'revoke-role');
            success_ok(api('PATCH', "/api/users/$x->{id}", { role => 'admin' }, bearer($adm)), 200, 'promoted');
            my $tok = wait_for(10, sub {
                my $s = login($x->{email}, $x->{password});
                my (undef, $c) = decode_jwt(($s->{json}{data} || {})->{token});
                return $c && ($c->{role} // '') eq 'admin' ? $s->{json}{data}{token} : undef;
            }, 0.5);
            ok($tok, 'an admin token after the promotion') or return;
            is(api('GET', '/api/users', undef, bearer($tok))->{status}, 200, 'it lists the users');
            success_ok(api('PATCH', "/api/users/$x->{id}", { role => 'customer' }, bearer($adm)), 200, 'demoted');
            my $refused = wait_for(5, sub { api('GET', '/api/users', undef, bearer($tok))->{status} == 401 }, 0.25);
            ok($refused, 'the admin token is refused after the demotion');
        },
    },
]);

finish();
