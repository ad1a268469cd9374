#!/usr/bin/perl
# 92-users-roles.t: an administrator's role and active changes in the user service reach the
# auth service (user.role_changed through the outbox).  A promoted customer's next refreshed
# token says admin and opens the administrators' routes; a demoted administrator's next one
# says customer again.  A deactivated account cannot sign in (403 ACCOUNT_DISABLED) or
# refresh, and signs in again once reactivated.  A change to what already is publishes
# nothing; an administrator cannot demote or deactivate themselves; a late (older) or
# repeated event changes nothing in auth.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $JSON = JSON::PP->new->utf8->canonical;
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };
my $ADMIN_ID = 600_000_000 + int(rand(90_000_000));
my $ADM = mint_jwt({ sub => "$ADMIN_ID", role => 'admin', email => "jefa$ADMIN_ID\@example.com",
                     exp => time + 3600 });

my $u = register_user(name => 'Rosa Roles', tag => 'roles');
my $s = login_ok($u);
is($s->{claims}{role}, 'customer', 'a new account is a customer');
my $rt = $s->{refreshToken};

ok(wait_for(10, sub { api('GET', "/api/users/$u->{id}", undef, bearer($ADM))->{status} == 200 }, 0.2),
   'the profile exists');

# Refreshes (each rotating the token) until the access token's role is $role; the last access
# token, or '' when it never came within the time.
sub token_with_role {
    my ($role, $timeout) = @_;
    my $token = '';
    wait_for($timeout // 15, sub {
        my $r = refresh($rt);
        return 0 unless $r->{status} == 200;
        $rt = $r->{json}{data}{refreshToken};
        $token = $r->{json}{data}{token};
        my (undef, $c) = decode_jwt($token);
        return ($c->{role} // '') eq $role;
    }, 0.3);
    my (undef, $c) = decode_jwt($token);
    return ($c && ($c->{role} // '') eq $role) ? $token : '';
}

sub events_of {
    return pg_value(q{SELECT count(*) FROM users.outbox WHERE type = 'user.role_changed' }
                    . q{AND (payload->>'userId')::bigint = $1}, $u->{id}) // -1;
}

# ---- promotion ----
my $r = api('PATCH', "/api/users/$u->{id}", { role => 'admin' }, bearer($ADM));
success_ok($r, 200, 'PATCH role admin');
json_like($r->{json}{data}{user}, { id => $u->{id}, role => 'admin', active => $TRUE }, 'now admin');

my $row = pg(q{SELECT source, payload::text FROM users.outbox WHERE type = 'user.role_changed' }
    . q{AND (payload->>'userId')::bigint = $1 ORDER BY id DESC LIMIT 1}, $u->{id});
my $ev = eval { $JSON->decode($row->[0][1] // '') } || {};
is($row->[0][0], 'user', 'user.role_changed in the outbox, from the user service');
json_like($ev, { userId => $u->{id}, role => 'admin', active => $TRUE, version => 1 },
    'its data {userId, role, active, version}');

my $tok = token_with_role('admin');
ok($tok, "the user's next refreshed token says admin");
$r = api('GET', '/api/users?limit=1', undef, bearer($tok));
success_ok($r, 200, 'and opens the administrators\' list');
is(pg_value('SELECT role FROM auth.users WHERE id = $1', $u->{id}), 'admin', 'auth has the role');

# ---- nothing to change, and no self-demotion ----
my $before = events_of();
$r = api('PATCH', "/api/users/$u->{id}", { role => 'admin', active => JSON::PP::true() }, bearer($ADM));
success_ok($r, 200, 'PATCH to what already is');
is(events_of(), $before, 'publishes nothing');

$r = api('PATCH', "/api/users/$u->{id}", { role => 'customer' }, bearer($tok));
envelope_ok($r, 409, 'CANNOT_CHANGE_SELF', 'an administrator cannot demote themselves');
$r = api('PATCH', "/api/users/$u->{id}", { active => JSON::PP::false() }, bearer($tok));
envelope_ok($r, 409, 'CANNOT_CHANGE_SELF', 'nor deactivate themselves');
is(events_of(), $before, 'nothing published');

# ---- demotion ----
$r = api('PATCH', "/api/users/$u->{id}", { role => 'customer' }, bearer($ADM));
json_like($r->{json}{data}{user}, { role => 'customer' }, 'PATCH role customer');
$tok = token_with_role('customer');
ok($tok, "the demoted administrator's next token says customer");
$r = api('GET', '/api/users?limit=1', undef, bearer($tok));
envelope_ok($r, 403, 'FORBIDDEN', 'and the administrators\' list is closed again');

# ---- a late event changes nothing ----
my $late = run_cmd([events_bin(), 'publish', '--type', 'user.role_changed', '--data',
    $JSON->encode({ userId => $u->{id}, role => 'admin', active => JSON::PP::true(), version => 1 })],
    timeout => 30);
is($late->{rc}, 0, 'an older change published again') or diag($late->{text});
my $seen = wait_for(10, sub {
    (pg_value(q{SELECT count(*) FROM auth.processed_events WHERE consumer = 'roles' AND event_id = $1},
              ($late->{out} =~ /([0-9a-f-]{36})/)[0] // '00000000-0000-0000-0000-000000000000') // 0) == 1 }, 0.2);
ok($seen, 'auth handled it');
is(pg_value('SELECT role FROM auth.users WHERE id = $1', $u->{id}), 'customer', 'and kept the later role');

# ---- deactivation ----
$r = api('PATCH', "/api/users/$u->{id}", { active => JSON::PP::false() }, bearer($ADM));
json_like($r->{json}{data}{user}, { active => $FALSE, role => 'customer' }, 'PATCH active false');
my $refused = wait_for(15, sub { login($u->{email}, $u->{password})->{status} == 403 }, 0.3);
ok($refused, 'the deactivated account cannot sign in');
envelope_ok(login($u->{email}, $u->{password}), 403, 'ACCOUNT_DISABLED', '403 ACCOUNT_DISABLED');
envelope_ok(refresh($rt), 401, 'INVALID_REFRESH_TOKEN', 'nor refresh its session');

$r = api('PATCH', "/api/users/$u->{id}", { active => JSON::PP::true() }, bearer($ADM));
json_like($r->{json}{data}{user}, { active => $TRUE }, 'PATCH active true');
ok(wait_for(15, sub { login($u->{email}, $u->{password})->{status} == 200 }, 0.3),
   'the reactivated account signs in again');
is(pg_value('SELECT access_version FROM auth.users WHERE id = $1', $u->{id}), 4,
   'auth applied the four changes in order');

finish();
