#!/usr/bin/perl
# 93-users-outage.t: what the user service does when its stores fail.
#   PostgreSQL down: 503 SERVICE_UNAVAILABLE in the envelope within a second for reads and
#   writes, its /health says so, and it serves again by itself once the store is back; a
#   user.registered that arrived meanwhile makes its profile once the store returns.
#   RabbitMQ down: an administrator's role change is still made (the outbox keeps the event)
#   and reaches the auth service once the broker is back.
# Few requests are sent during each outage: the user breaker (critical profile: 5 consecutive
# failures) must not open because of this file.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $JSON = JSON::PP->new->utf8->canonical;
my $HEALTH = "$ENV{FLORES_INTERNAL_URL}/services/user/health";
my $NEXT_UID = 500_000_000 + int(rand(90_000_000));
my $ADM = mint_jwt({ sub => $NEXT_UID++, role => 'admin', exp => time + 3600 });

my $cid = $NEXT_UID++;
my $cust = mint_jwt({ sub => "$cid", email => "cliente$cid\@example.com", exp => time + 3600 });
my $late = $NEXT_UID++;
cleanup(sub { pg('DELETE FROM users.profiles WHERE id = $1 OR id = $2', $cid, $late) });

success_ok(api('GET', '/api/users/me', undef, bearer($cust)), 200, 'setup: a profile');
is(api('GET', $HEALTH)->{status}, 200, 'healthy before the outage');

# ---- PostgreSQL ----
is(stop_component('postgres')->{rc}, 0, './flores stop postgres');

my $r = api('GET', '/api/users/me', undef, bearer($cust));
envelope_ok($r, 503, 'SERVICE_UNAVAILABLE', 'a read while the store is down');
cmp_ok($r->{ms}, '<', 1000, 'within a second');
$r = api('PATCH', '/api/users/me', { name => 'Durante la caída' }, bearer($cust));
envelope_ok($r, 503, 'SERVICE_UNAVAILABLE', 'a write while the store is down');
cmp_ok($r->{ms}, '<', 1000, 'within a second');
is(api('GET', $HEALTH)->{status}, 503, 'the service\'s health says the store is down');

my $pub = run_cmd([events_bin(), 'publish', '--type', 'user.registered', '--data',
    $JSON->encode({ userId => $late, name => 'Tomás Tardío', email => "tardio$late\@example.com",
                    role => 'customer', createdAt => '2026-01-02T03:04:05.000Z' })], timeout => 30);
is($pub->{rc}, 0, 'a user.registered while the store is down') or diag($pub->{text});
my ($ev) = $pub->{out} =~ /([0-9a-f-]{36})/;

is(start_component('postgres')->{rc}, 0, './flores start postgres');

$r = wait_for(10, sub { my $x = api('GET', '/api/users/me', undef, bearer($cust)); $x->{status} == 200 ? $x : 0 }, 0.5);
ok($r, 'the service answers again within 10 s');
is(api('GET', $HEALTH)->{status}, 200, 'health 200');
success_ok(api('PATCH', '/api/users/me', { name => 'Después de la caída' }, bearer($cust)), 200,
           'writes work again');

$r = wait_for(45, sub { my $x = api('GET', "/api/users/$late", undef, bearer($ADM)); $x->{status} == 200 ? $x : 0 }, 1);
ok($r, 'the profile of the event is made once the store is back');
json_like($r ? $r->{json}{data}{user} : {}, { name => 'Tomás Tardío', createdAt => '2026-01-02T03:04:05.000Z' },
          'from the event\'s data');
is(pg_value(q{SELECT count(*) FROM users.processed_events WHERE consumer = 'profiles' AND event_id = $1}, $ev), 1,
   'handled once');

# ---- RabbitMQ ----
my $u = register_user(name => 'Bruno Broker', tag => 'outage');
ok(wait_for(10, sub { api('GET', "/api/users/$u->{id}", undef, bearer($ADM))->{status} == 200 }, 0.2),
   'setup: its profile');

is(stop_component('rabbitmq')->{rc}, 0, './flores stop rabbitmq');
$r = api('PATCH', "/api/users/$u->{id}", { role => 'admin' }, bearer($ADM));
success_ok($r, 200, 'a role change while the broker is down');
is(pg_value(q{SELECT count(*) FROM users.outbox WHERE type = 'user.role_changed' AND published_at IS NULL }
            . q{AND (payload->>'userId')::bigint = $1}, $u->{id}), 1, 'its event waits in the outbox');
is(pg_value('SELECT role FROM auth.users WHERE id = $1', $u->{id}), 'customer', 'auth does not have it yet');
is(start_component('rabbitmq')->{rc}, 0, './flores start rabbitmq');

ok(wait_for(60, sub { (pg_value('SELECT role FROM auth.users WHERE id = $1', $u->{id}) // '') eq 'admin' }, 1),
   'it reaches auth once the broker is back');
my $s = login_ok($u);
is($s->{claims}{role}, 'admin', 'and the next token says admin');

finish();
