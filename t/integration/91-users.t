#!/usr/bin/perl
# 91-users.t: the user service's profiles and addresses.  A registered user's profile appears
# (user.registered), and a token whose event has not arrived gets one made from its identity;
# profile edits and every validation error; addresses keep exactly one default through every
# operation (first address, a new default, an edit, deleting the default); another user's
# address is 404; administrators list and search accounts (%, _ and \ taken literally);
# customers and anonymous callers are refused on the administrators' routes.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use POSIX ();

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };
my $NEXT_UID = 700_000_000 + int(rand(90_000_000));

sub admin_token {
    my $id = $NEXT_UID++;
    return mint_jwt({ sub => "$id", role => 'admin', email => "admin$id\@example.com",
                      exp => time + 3600 });
}

sub customer {
    my $id = $NEXT_UID++;
    return { id => $id, email => "cliente$id\@example.com",
             token => mint_jwt({ sub => "$id", email => "cliente$id\@example.com",
                                 exp => time + 3600 }) };
}

sub qs {
    my $s = shift;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub addresses {
    my $token = shift;
    my $r = api('GET', '/api/users/me/addresses', undef, bearer($token));
    return ref $r->{json} eq 'HASH' && $r->{status} == 200 ? $r->{json}{data}{addresses} : undef;
}

sub defaults_ok {
    my ($list, $want_id, $name) = @_;
    my @d = grep { $_->{isDefault} } @{ $list || [] };
    ok(@d == 1 && $d[0]{id} == $want_id, $name)
        or diag('defaults: ' . join(',', map { $_->{id} } @d) . " want $want_id");
}

my $addr = { label => 'Casa', recipient => 'Ana Pérez', street => 'Av. Providencia 1234, depto 56',
             city => 'Santiago', region => 'Metropolitana', postalCode => '7500000',
             phone => '+56 9 8765 4321' };

# ---- the profile of a registered user ----
my $u = register_user(name => 'Ana Pérez', tag => 'users');
my $s = login_ok($u);

my $me = wait_for(10, sub {
    my $r = api('GET', '/api/users/me', undef, bearer($s->{token}));
    $r->{status} == 200 && defined $r->{json}{data}{profile}{name} ? $r : 0 }, 0.2);
ok($me, 'the profile appears after registration') or diag(explain($me));
json_like($me ? $me->{json}{data}{profile} : {}, { id => $u->{id}, name => 'Ana Pérez',
    email => $u->{email}, phone => undef, createdAt => $ISO }, 'profile {id,name,email,phone,createdAt}');

my $r = api('PATCH', '/api/users/me', { name => '  Ana María Pérez ', phone => '9 1234 5678' },
            bearer($s->{token}));
success_ok($r, 200, 'PATCH /api/users/me');
json_like($r->{json}{data}{profile}, { name => 'Ana María Pérez', phone => '+56912345678' },
          'name trimmed, phone normalised to E.164');

$r = api('PATCH', '/api/users/me', { phone => '+44 20 7946 0958' }, bearer($s->{token}));
json_like($r->{json}{data}{profile}, { name => 'Ana María Pérez', phone => '+442079460958' },
          'an international number; the name is kept');

$r = api('PATCH', '/api/users/me', { phone => '' }, bearer($s->{token}));
json_like($r->{json}{data}{profile}, { phone => undef }, 'an empty phone removes it');

$r = api('PATCH', '/api/users/me', { name => 'A', phone => 12345 }, bearer($s->{token}));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'bad name and phone type');
errors_fields_ok($r, [qw(name phone)], 'both fields named');

$r = api('PATCH', '/api/users/me', { name => 'x' x 101 }, bearer($s->{token}));
errors_fields_ok($r, [qw(name)], 'a name over 100 characters');

$r = api('PATCH', '/api/users/me', { phone => '12345' }, bearer($s->{token}));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'a phone that is no number');
errors_fields_ok($r, [qw(phone)], 'phone named');

$r = api('PATCH', '/api/users/me', '{"name":', bearer($s->{token}));
envelope_ok($r, 400, 'INVALID_JSON', 'malformed JSON');

$r = api('GET', '/api/users/me');
envelope_ok($r, 401, 'UNAUTHORIZED', 'no token: 401 at the gateway');

# ---- a token whose user.registered has not arrived ----
my $early = customer();
$r = api('GET', '/api/users/me', undef, bearer($early->{token}));
success_ok($r, 200, 'a profile made on first use from the token');
json_like($r->{json}{data}{profile}, { id => $early->{id}, email => $early->{email}, name => undef },
          'id and email from the token, no name yet');

# Its user.registered, arriving later, gives the profile its name; delivered again, it changes
# nothing (handled once).
my $JSON = JSON::PP->new->utf8->canonical;
my $eid = '6f1c2a3b-4d5e-4f60-8a7b-' . random_hex(6);
my $data = $JSON->encode({ userId => $early->{id}, name => 'Eva Temprana', email => $early->{email},
                           role => 'customer', createdAt => '2026-01-01T00:00:00.000Z' });
for my $n (1, 2) {
    my $p = run_cmd([events_bin(), 'publish', '--type', 'user.registered', '--id', $eid, '--data', $data],
                    timeout => 30);
    is($p->{rc}, 0, "user.registered published (delivery $n)") or diag($p->{text});
    if ($n == 1) {
        $r = wait_for(10, sub { my $x = api('GET', '/api/users/me', undef, bearer($early->{token}));
                                defined $x->{json}{data}{profile}{name} ? $x : 0 }, 0.2);
        json_like($r ? $r->{json}{data}{profile} : {}, { name => 'Eva Temprana',
            createdAt => '2026-01-01T00:00:00.000Z' }, 'the late event completes the profile');
        api('PATCH', '/api/users/me', { name => 'Eva Editada' }, bearer($early->{token}));
    }
}
ok(wait_for(10, sub { (pg_value(q{SELECT count(*) FROM users.processed_events WHERE event_id = $1}, $eid) // 0) == 1 }, 0.2),
   'the event is recorded once');
sleep 1;
json_like(api('GET', '/api/users/me', undef, bearer($early->{token}))->{json}{data}{profile},
          { name => 'Eva Editada' }, 'the redelivery did not undo the edit');

# ---- addresses: exactly one default ----
my $c = customer();
is_deeply(addresses($c->{token}), [], 'no addresses at first');

$r = api('POST', '/api/users/me/addresses', { %$addr, isDefault => JSON::PP::false() },
         bearer($c->{token}));
success_ok($r, 201, 'POST an address');
my $a1 = $r->{json}{data}{address};
json_like($a1, { id => qr/^\d+$/, label => 'Casa', recipient => 'Ana Pérez', city => 'Santiago',
    postalCode => '7500000', phone => '+56987654321', isDefault => $TRUE, createdAt => $ISO },
    'the first address is the default even when not asked');

$r = api('POST', '/api/users/me/addresses', { %$addr, label => 'Oficina' }, bearer($c->{token}));
my $a2 = $r->{json}{data}{address};
json_like($a2, { label => 'Oficina', isDefault => $FALSE }, 'a second address is not the default');
defaults_ok(addresses($c->{token}), $a1->{id}, 'one default: the first');

$r = api('POST', '/api/users/me/addresses', { %$addr, label => 'Mamá', isDefault => JSON::PP::true() },
         bearer($c->{token}));
my $a3 = $r->{json}{data}{address};
json_like($a3, { isDefault => $TRUE }, 'a third address asked to be the default');
defaults_ok(addresses($c->{token}), $a3->{id}, 'one default: the new one');

$r = api('PUT', "/api/users/me/addresses/$a2->{id}", { %$addr, label => 'Oficina 2', isDefault => JSON::PP::true() },
         bearer($c->{token}));
success_ok($r, 200, 'PUT makes the second the default');
json_like($r->{json}{data}{address}, { label => 'Oficina 2', isDefault => $TRUE }, 'replaced');
defaults_ok(addresses($c->{token}), $a2->{id}, 'one default: the edited one');

$r = api('PUT', "/api/users/me/addresses/$a2->{id}", { %$addr, isDefault => JSON::PP::false() },
         bearer($c->{token}));
json_like($r->{json}{data}{address}, { isDefault => $TRUE },
          'isDefault false on the default is not honoured (another must become it)');
defaults_ok(addresses($c->{token}), $a2->{id}, 'still one default');

$r = api('DELETE', "/api/users/me/addresses/$a2->{id}", undef, bearer($c->{token}));
success_ok($r, 200, 'DELETE the default');
my $list = addresses($c->{token});
is(scalar @{ $list || [] }, 2, 'two left');
defaults_ok($list, $a3->{id}, 'the most recent other became the default');

$r = api('DELETE', "/api/users/me/addresses/$a1->{id}", undef, bearer($c->{token}));
defaults_ok(addresses($c->{token}), $a3->{id}, 'deleting another keeps the default');
api('DELETE', "/api/users/me/addresses/$a3->{id}", undef, bearer($c->{token}));
is_deeply(addresses($c->{token}), [], 'all gone');
is(pg_value('SELECT count(*) FROM users.addresses WHERE user_id = $1', $c->{id}), 0,
   'nothing left in the store');

# Concurrent changes of one user's addresses, on a profile that does not exist yet: every
# request succeeds and exactly one address is the default, whatever the order.
my $race = customer();
my @pids;
for my $i (1 .. 8) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $x = api('POST', '/api/users/me/addresses', { %$addr, label => "Simultánea $i",
            isDefault => $i % 2 ? JSON::PP::true() : JSON::PP::false() }, bearer($race->{token}));
        POSIX::_exit($x->{status} == 201 ? 0 : 1);
    }
    push @pids, $pid;
}
my $failed = 0;
for my $pid (@pids) { waitpid $pid, 0; $failed++ if $? }
is($failed, 0, 'eight concurrent POSTs all succeed');
$list = addresses($race->{token});
is(scalar @{ $list || [] }, 8, 'eight addresses');
is(scalar(grep { $_->{isDefault} } @{ $list || [] }), 1, 'exactly one default');

# Validation of addresses.
$r = api('POST', '/api/users/me/addresses', { label => 'x' x 41, recipient => 'A', street => 'ab',
    city => '', postalCode => '12', phone => '123', isDefault => 'yes' }, bearer($c->{token}));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'every bad address field');
errors_fields_ok($r, [qw(label recipient street city region isDefault)], 'the table\'s fields');
$r = api('POST', '/api/users/me/addresses', { %$addr, postalCode => '12', phone => '123' },
         bearer($c->{token}));
errors_fields_ok($r, [qw(postalCode phone)], 'postal code and phone');

# ---- another user's address is 404 ----
my $other = customer();
$r = api('POST', '/api/users/me/addresses', $addr, bearer($other->{token}));
my $oa = $r->{json}{data}{address};
$r = api('PUT', "/api/users/me/addresses/$oa->{id}", $addr, bearer($c->{token}));
envelope_ok($r, 404, 'NOT_FOUND', "PUT another user's address");
$r = api('DELETE', "/api/users/me/addresses/$oa->{id}", undef, bearer($c->{token}));
envelope_ok($r, 404, 'NOT_FOUND', "DELETE another user's address");
$r = api('DELETE', '/api/users/me/addresses/abc', undef, bearer($c->{token}));
envelope_ok($r, 404, 'NOT_FOUND', 'a malformed id');
is(scalar @{ addresses($other->{token}) || [] }, 1, "the other user's address is untouched");

# ---- another service reads a saved address (the order service, through the internal listener) ----
$r = internal_api('GET', "/internal/user/api/users/internal/$other->{id}/addresses/$oa->{id}");
success_ok($r, 200, 'a service reads a user\'s address');
json_like($r->{json}{data}{address}, { id => $oa->{id}, recipient => 'Ana Pérez', city => 'Santiago',
    phone => '+56987654321', isDefault => $TRUE }, 'the address');
$r = internal_api('GET', "/internal/user/api/users/internal/$c->{id}/addresses/$oa->{id}");
envelope_ok($r, 404, 'NOT_FOUND', 'not as another user\'s');
$r = api('GET', "/api/users/internal/$other->{id}/addresses/$oa->{id}", undef, bearer($c->{token}));
envelope_ok($r, 403, 'FORBIDDEN', 'a customer cannot use the route for services');

# ---- administrators: list, search, one account ----
my $adm = admin_token();
my $tag = lc random_hex(6);
my @made;
for my $name ("Pct 100% $tag", "Und a_b $tag", "Und axb $tag", "Plain $tag") {
    push @made, register_user(name => $name, tag => "srch$tag");
}
wait_for(10, sub { (pg_value('SELECT count(*) FROM users.profiles WHERE name LIKE $1', "%$tag") // 0) == 4 }, 0.2);

$r = api('GET', '/api/users?search=' . qs($tag) . '&limit=2', undef, bearer($adm));
success_ok($r, 200, 'GET /api/users?search=');
json_like($r->{json}{data}{pagination}, { page => 1, limit => 2, total => 4, pages => 2 }, 'pagination');
is(scalar @{ $r->{json}{data}{users} }, 2, 'a page of 2');
json_like($r->{json}{data}{users}[0], { id => qr/^\d+$/, email => qr/\@/, role => 'customer',
    active => $TRUE, createdAt => $ISO }, 'admin view of a user');

$r = api('GET', '/api/users?search=' . qs("100% $tag"), undef, bearer($adm));
is(join(',', map { $_->{name} } @{ $r->{json}{data}{users} || [] }), "Pct 100% $tag", '% is literal');
$r = api('GET', '/api/users?search=' . qs("a_b $tag"), undef, bearer($adm));
is(join(',', map { $_->{name} } @{ $r->{json}{data}{users} || [] }), "Und a_b $tag", '_ is literal');
$r = api('GET', '/api/users?search=' . qs(uc "PLAIN $tag"), undef, bearer($adm));
is(scalar @{ $r->{json}{data}{users} || [] }, 1, 'search ignores case');
$r = api('GET', '/api/users?search=' . qs($made[3]{email}), undef, bearer($adm));
is(scalar @{ $r->{json}{data}{users} || [] }, 1, 'search by email');
$r = api('GET', '/api/users?limit=0', undef, bearer($adm));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'limit 0');

$r = api('GET', "/api/users/$u->{id}", undef, bearer($adm));
success_ok($r, 200, 'GET /api/users/:id');
json_like($r->{json}{data}{user}, { id => $u->{id}, name => 'Ana María Pérez', role => 'customer',
    active => $TRUE }, 'one account');
$r = api('GET', '/api/users/999999999999', undef, bearer($adm));
envelope_ok($r, 404, 'NOT_FOUND', 'an unknown account');

$r = api('PATCH', "/api/users/$u->{id}", { role => 'root', active => 'no' }, bearer($adm));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'bad role and active');
errors_fields_ok($r, [qw(role active)], 'both named');
$r = api('PATCH', "/api/users/$u->{id}", {}, bearer($adm));
envelope_ok($r, 400, 'VALIDATION_ERROR', 'nothing to change');

# ---- customers and anonymous callers on the administrators' routes ----
for my $req (['GET', '/api/users'], ['GET', "/api/users/$u->{id}"],
             ['PATCH', "/api/users/$u->{id}", { role => 'admin' }])
{
    $r = api($req->[0], $req->[1], $req->[2], bearer($s->{token}));
    envelope_ok($r, 403, 'FORBIDDEN', "customer: $req->[0] $req->[1]");
    $r = api($req->[0], $req->[1], $req->[2]);
    envelope_ok($r, 401, 'UNAUTHORIZED', "anonymous: $req->[0] $req->[1]");
}
is(pg_value('SELECT role FROM users.profiles WHERE id = $1', $u->{id}), 'customer',
   'the customer is still a customer');

cleanup(sub {
    for my $x ($early, $c, $other, $race) {
        pg('DELETE FROM users.profiles WHERE id = $1', $x->{id});
    }
});

finish();
