#!/usr/bin/perl
# 30-events.t: registration publishes user.registered through the transactional outbox:
# the message's shape, and delivery exactly once after a broker outage that spanned the
# registration (the registration itself never waits for the broker).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use Time::HiRes ();

my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/i;
my $ISO  = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $queue = unique_queue('registered');
my %ctx;

cleanup(sub { events_delete($queue) });

# The event for $email: reads the queue until it arrives or $timeout seconds passed; returns
# (the messages for $email, everything read).
sub events_for {
    my ($email, $timeout) = @_;
    my (@mine, @all);
    my $deadline = time + $timeout;
    while (!@mine && time < $deadline) {
        my $left = $deadline - time;
        my ($rc, $msgs) = events_tail($queue, 1, $left < 1 ? 1 : $left);
        for my $m (@$msgs) {
            push @all, $m;
            push @mine, $m if ref $m->{data} eq 'HASH' && ($m->{data}{email} // '') eq $email;
        }
        last if $rc != 0 && !@$msgs;    # timed out
    }
    return (\@mine, \@all);
}

# What every user.registered message looks like; never a password or its hash.
sub message_ok {
    my ($m, $u) = @_;
    json_like($m, {
        id => $UUID, type => 'user.registered', occurredAt => $ISO, source => 'auth',
        data => { email => $u->{email}, password => ABSENT, passwordHash => ABSENT, password_hash => ABSENT },
    }, 'the message: id, type, occurredAt, source auth, data');
    my $data = $m->{data} || {};
    ok(grep({ defined $data->{$_} && $data->{$_} eq "$u->{id}" } qw(id userId)),
        'data names the user id');
}

sub outbox_rows {
    my ($email, $published) = @_;
    return pg_value('SELECT count(*) FROM auth.outbox WHERE type = $1 AND strpos(payload::text, $2) > 0'
        . ($published ? ' AND published_at IS NOT NULL' : ' AND published_at IS NULL'),
        'user.registered', $email) // -1;
}

run_blocks([
    {
        name => 'a durable queue bound to user.registered',
        then => sub {
            my $r = events_declare($queue, 'user.registered');
            is($r->{rc}, 0, "flores-events declare $queue") or diag($r->{text});
        },
    },
    {
        # Protects: a registration is announced, with the documented envelope.
        name    => 'broker up: the event arrives',
        request => sub { ['POST', '/api/auth/register', { name => 'Eva Evento', email => ($ctx{u1}{email} = unique_email('ev1')),
                                                          password => ($ctx{u1}{password} = 'clave-Evento-1') }] },
        status  => 201,
        then    => sub {
            $ctx{u1}{id} = $_[0]{json}{data}{user}{id};
            my ($mine, $all) = events_for($ctx{u1}{email}, 20);
            is(scalar @$mine, 1, 'one user.registered for the new user within 20 s')
                or diag('read: ' . scalar(@$all) . ' message(s)');
            message_ok($mine->[0] || {}, $ctx{u1});
        },
    },
    {
        name => 'stop the broker',
        then => sub {
            my $r = stop_component('rabbitmq');
            is($r->{rc}, 0, './flores stop rabbitmq');
        },
    },
    {
        # Protects: the broker is not on the registration's path.
        name    => 'broker down: registration still succeeds, promptly',
        request => sub { ['POST', '/api/auth/register', { name => 'Omar Outbox', email => ($ctx{u2}{email} = unique_email('ev2')),
                                                          password => 'clave-Evento-2' }] },
        status  => 201,
        max_ms  => 3000,
        then    => sub {
            $ctx{u2}{id} = $_[0]{json}{data}{user}{id};
            # Protects: the event is kept in the outbox (same transaction), waiting.
            Time::HiRes::sleep(1);
            is(outbox_rows($ctx{u2}{email}, 0), 1, 'one unpublished outbox row for the user');
        },
    },
    {
        name => 'start the broker',
        then => sub {
            my $r = start_component('rabbitmq');
            is($r->{rc}, 0, './flores start rabbitmq');
        },
    },
    {
        # Protects: the outbox relay delivers once the broker is back, without a restart.
        name => 'broker back: the event arrives within 30 s',
        then => sub {
            my ($mine) = events_for($ctx{u2}{email}, 30);
            is(scalar @$mine, 1, 'user.registered for the user registered during the outage');
            message_ok($mine->[0] || {}, $ctx{u2});
            # Protects: exactly once: nothing more for that user.
            my ($more) = events_for($ctx{u2}{email}, 5);
            is(scalar @$more, 0, 'no second delivery within 5 s');
            ok(wait_for(5, sub { outbox_rows($ctx{u2}{email}, 1) == 1 }), 'the outbox row is marked published');
        },
    },
]);

finish();
