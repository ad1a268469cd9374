#!/usr/bin/perl
# 90-restart.t: `./flores down` then `./flores up --no-build`: nothing is left listening in
# between, and afterwards accounts, sessions and the signing key are still there.
# Restarts the whole stack: keep it last.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $u = register_user(name => 'Ramona Reinicio', tag => 'restart');
my $s = login_ok($u);
my %ctx;

# The mode of the private key auth signs with, and of its directory.
sub secret_file_state {
    my (undef, $pem) = jwt_signing_key();
    my @st = stat $pem or return '';
    my @dt = stat $ENV{FLORES_JWT_KEYS_DIR} or return '';
    return sprintf '%04o %04o', $st[2] & 07777, $dt[2] & 07777;
}

sub key_state {
    open my $fh, '<', "$ENV{FLORES_JWT_KEYS_DIR}/keys.state" or return '';
    local $/;
    return scalar <$fh>;
}

run_blocks([
    {
        # Protects: the generated signing key is private.
        name => 'the signing key is mode 0600 in a 0700 directory',
        then => sub {
            is(secret_file_state(), '0600 0700', 'key 0600, directory 0700');
            $ctx{secret} = key_state();
            like($ctx{secret}, qr/^\S+ \d+ \d+$/m, 'a key in keys.state');
        },
    },
    {
        name => './flores down',
        then => sub {
            is(stack_down()->{rc}, 0, 'exit status 0');
            # Protects: down stops everything it started.
            my $g = api('GET', '/api/auth/me');
            is($g->{status}, 599, 'the gateway no longer answers') or diag("got $g->{status}");
            my $i = api('GET', "$ENV{FLORES_INTERNAL_URL}/services/auth/health");
            is($i->{status}, 599, 'the internal listener no longer answers');
            my $p = run_cmd(['pg_isready', '-d', $ENV{FLORES_PG_URL}, '-t', '2'], timeout => 10);
            isnt($p->{rc}, 0, 'PostgreSQL no longer answers');
        },
    },
    {
        name => './flores up --no-build',
        then => sub {
            is(stack_up()->{rc}, 0, 'exit status 0');
            ok(wait_for(20, sub { api('GET', "$ENV{FLORES_INTERNAL_URL}/services/auth/health")->{status} == 200 }, 0.5),
                'auth healthy');
        },
    },
    {
        # Protects: data survives down and up.
        name    => 'the user registered before still logs in',
        request => ['POST', '/api/auth/login', { email => $u->{email}, password => $u->{password} }],
        status  => 200,
        json    => { data => { user => { id => $u->{id}, email => $u->{email} } } },
    },
    {
        # Protects: sessions survive a restart.
        name    => 'the refresh token from before still refreshes',
        request => ['POST', '/api/auth/refresh', { refreshToken => $s->{refreshToken} }],
        status  => 200,
    },
    {
        # Protects: the signing key is generated once, not on every up (or every restart
        # would log everybody out).
        name    => 'the access token from before is still accepted',
        request => ['GET', '/api/auth/me'],
        token   => $s->{token},
        status  => 200,
        json    => { data => { user => { id => $u->{id} } } },
        then    => sub {
            my $now = key_state();
            ok(defined $ctx{secret} && $now eq $ctx{secret}, 'the keys are unchanged');
            is(secret_file_state(), '0600 0700', 'still private');
        },
    },
]);

finish();
