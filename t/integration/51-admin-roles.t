#!/usr/bin/perl
# 51-admin-roles.t: every role change has one path and one event shape.  flores-admin promote
# and demote ask the user service (user.role_change_requested), which owns role, active and
# their version, applies the change like PATCH /api/users/:id and publishes user.role_changed
# {userId, role, active, version}; auth follows.  So a promotion by flores-admin followed by a
# demotion through the API ends with a customer everywhere, and the admin token minted in
# between is refused by the gateway (revocation; needs the gateway's revocation endpoint).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $ADMIN_BIN = "$ENV{FLORES_BIN_DIR}/fcgi-services/auth/flores-admin";
my $JSON = JSON::PP->new->utf8->canonical;
my $ADMIN_ID = 800_000_000 + int(rand(90_000_000));
my $ADM = mint_jwt({ sub => "$ADMIN_ID", role => 'admin', email => "jefa$ADMIN_ID\@example.com",
                     exp => time + 3600 });
my %ctx;

sub admin_cli { return run_cmd([$ADMIN_BIN, @_], timeout => 60, env => { FLORES_PG_SCHEMA => 'auth' }) }

# The role (and version) the user service reports to an administrator.
sub user_side {
    my $r = api('GET', "/api/users/$ctx{u}{id}", undef, bearer($ADM));
    return $r->{status} == 200 ? $r->{json}{data}{user} : {};
}
sub auth_side { return pg(q{SELECT role, active, access_version FROM auth.users WHERE id = $1}, $ctx{u}{id})->[0] || [] }
sub user_version { return pg_value('SELECT version FROM users.profiles WHERE id = $1', $ctx{u}{id}) // -1 }

# Both services say $role, at the user service's current version.
sub agree_on {
    my ($role, $timeout) = @_;
    return wait_for($timeout // 15, sub {
        my $a = auth_side();
        return (user_side()->{role} // '') eq $role && ($a->[0] // '') eq $role
            && ($a->[2] // -1) == user_version();
    }, 0.2);
}

sub role_events {
    my $rows = pg(q{SELECT source, payload::text FROM users.outbox WHERE type = 'user.role_changed' }
        . q{AND (payload->>'userId')::bigint = $1 ORDER BY id}, $ctx{u}{id}) || [];
    return [ map { { source => $_->[0], data => $JSON->decode($_->[1]) } } @$rows ];
}

run_blocks([
    {
        name => 'setup: a customer with a profile',
        then => sub {
            $ctx{u} = register_user(tag => 'cli-roles');
            ok(wait_for(10, sub { ($ctx{prof} = user_side())->{role} }, 0.2), 'the profile exists');
            is($ctx{prof}{role}, 'customer', 'a customer');
        },
    },
    {
        # Protects: flores-admin does not fork a second event shape or a second version.
        name => 'flores-admin promote: the user service applies it, auth follows',
        then => sub {
            my $r = admin_cli('promote', '--email', $ctx{u}{email});
            is($r->{rc}, 0, 'exit status 0') or diag($r->{text});
            ok(agree_on('admin'), 'admin in the user service and in auth, at one version');
            my $ev = role_events();
            is(scalar @$ev, 1, 'one user.role_changed');
            is($ev->[0]{source}, 'user', 'from the user service');
            is_deeply($ev->[0]{data}, { userId => $ctx{u}{id}, role => 'admin', active => JSON::PP::true(),
                version => 1 }, '{userId, role, active, version}');
            is(pg_value(q{SELECT count(*) FROM auth.outbox WHERE type = 'user.role_changed' }
                . q{AND (payload->>'userId')::bigint = $1}, $ctx{u}{id}), 0, 'auth publishes no user.role_changed');
            $ctx{admin} = login_ok($ctx{u});
            is($ctx{admin}{claims}{role}, 'admin', 'the next login says admin');
        },
    },
    {
        # Protects: the regression this fixes: the API's demotion after a flores-admin
        # promotion changed nothing (the user service still said customer).
        name => 'an API demotion after it: customer everywhere',
        then => sub {
            sleep 1.1;    # the cutoff is in whole seconds: the admin token is older than it
            my $r = api('PATCH', "/api/users/$ctx{u}{id}", { role => 'customer' }, bearer($ADM));
            success_ok($r, 200, 'PATCH role customer');
            is($r->{json}{data}{user}{role}, 'customer', 'the answer says customer');
            ok(agree_on('customer'), 'customer in the user service (GET /api/users/:id) and in auth');
            is(user_version(), 2, 'version 2');
            my $s = login_ok($ctx{u});
            is($s->{claims}{role}, 'customer', 'a new login says customer');
            cmp_ok(pg_value('SELECT tokens_valid_after FROM auth.users WHERE id = $1', $ctx{u}{id}), '>',
                $ctx{admin}{claims}{iat}, 'auth revoked the tokens minted before the demotion');
        },
    },
    {
        # Protects: the old admin token does not outlive the demotion (the gateway's
        # revocation table, fed by auth).
        name => 'the admin token minted before the demotion is refused',
        then => sub {
            my $r;
            ok(wait_for(12, sub {
                $r = api('GET', '/api/users?limit=1', undef, bearer($ctx{admin}{token}));
                $r->{status} == 401;
            }, 0.3), 'GET /api/users with it: 401') or diag("status $r->{status}");
        },
    },
    {
        name => 'flores-admin demote: the same path back',
        then => sub {
            is(admin_cli('promote', '--email', $ctx{u}{email})->{rc}, 0, 'promote');
            ok(agree_on('admin'), 'admin everywhere');
            my $r = admin_cli('demote', '--email', $ctx{u}{email});
            is($r->{rc}, 0, 'demote: exit status 0') or diag($r->{text});
            ok(agree_on('customer'), 'customer everywhere');
            is(user_version(), 4, 'version 4: each change counted once');
            is(join(',', map { "$_->{data}{role}/$_->{data}{version}" } @{ role_events() }),
                'admin/1,customer/2,admin/3,customer/4', 'the events, in order');
        },
    },
    {
        name => 'flores-admin promote of an unknown email fails',
        then => sub {
            my $r = admin_cli('promote', '--email', unique_email('nadie'));
            isnt($r->{rc}, 0, 'non-zero exit status');
        },
    },
]);

finish();
