#!/usr/bin/perl
# 31-outbox-retention.t: published outbox rows and consumers' handled-event records older than
# FLORES_OUTBOX_RETENTION (7 days in the stack) are deleted by the relay (every 10 s), or, in a
# service without an outbox (contact's mail schema), by a periodic task that also runs at
# start.  Younger rows stay, and an unpublished row is never deleted however old it is.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $OLD = q{now() - interval '8 days'};
my %id;

sub uuid { return join '-', random_hex(4), random_hex(2), '4' . substr(random_hex(2), 1), '8' . substr(random_hex(2), 1), random_hex(6) }

# A row of an event the user service may publish (the broker refuses it any other type, and a
# refused row would hold up the outbox behind it): a role change of an account that does not
# exist, which auth acknowledges and ignores.
my $NOBODY = 990_000_000 + int(rand(9_000_000));
my $PAYLOAD = qq({"userId":$NOBODY,"role":"customer","active":true,"version":1});

sub outbox_row {
    my ($name, $published, $occurred) = @_;
    $id{$name} = uuid();
    return pg_value(qq{INSERT INTO users.outbox (event_id, type, source, payload, occurred_at, published_at) }
        . qq{VALUES (\$1, 'user.role_changed', 'user', \$2, $occurred, $published) RETURNING 1},
        $id{$name}, $PAYLOAD);
}

sub processed_row {
    my ($schema, $name, $at) = @_;
    $id{$name} = uuid();
    return pg_value(qq{INSERT INTO $schema.processed_events (consumer, event_id, processed_at) }
        . qq{VALUES ('test', \$1, $at) RETURNING 1}, $id{$name});
}

sub outbox_has { return pg_value('SELECT count(*) FROM users.outbox WHERE event_id = $1', $id{$_[0]}) // -1 }
sub processed_has { return pg_value("SELECT count(*) FROM $_[0].processed_events WHERE event_id = \$1", $id{$_[1]}) // -1 }

run_blocks([
    {
        name => 'setup: old and young rows in the user service\'s outbox and processed_events',
        then => sub {
            is(outbox_row('old', $OLD, $OLD), 1, 'a row published 8 days ago');
            is(outbox_row('young', q{now() - interval '6 days'}, $OLD), 1, 'a row published 6 days ago');
            is(processed_row('users', 'old_seen', $OLD), 1, 'an event handled 8 days ago');
            is(processed_row('users', 'young_seen', 'now()'), 1, 'an event handled now');
        },
    },
    {
        # Protects: the outbox and the consumers' memory do not grow without bound.
        name => 'the relay deletes what is older than the retention, and only that',
        then => sub {
            ok(wait_for(25, sub { outbox_has('old') == 0 && processed_has('users', 'old_seen') == 0 }, 0.5),
                'the old outbox row and the old record are gone within 25 s');
            is(outbox_has('young'), 1, 'the young published row stays');
            is(processed_has('users', 'young_seen'), 1, 'the young record stays');
        },
    },
    {
        # Protects: an event is never lost to the retention: an old row not yet published is
        # published, not deleted.
        name => 'an old unpublished row is published, never deleted',
        then => sub {
            is(outbox_row('pending', 'NULL', $OLD), 1, 'a row written 8 days ago, unpublished');
            ok(wait_for(15, sub {
                (pg_value('SELECT published_at IS NOT NULL FROM users.outbox WHERE event_id = $1', $id{pending}) // '') eq 't'
            }, 0.2), 'published');
            sleep 11;
            is(outbox_has('pending'), 1, 'and still there (published now, so young)');
        },
    },
    {
        # Protects: a service without an outbox (contact) prunes its processed_events too.
        name => 'contact prunes the mail schema\'s records at start',
        then => sub {
            is(processed_row('mail', 'mail_old', $OLD), 1, 'a mail record of 8 days ago');
            is(processed_row('mail', 'mail_young', 'now()'), 1, 'a mail record of now');
            is(stop_component('contact')->{rc}, 0, 'contact stopped');
            is(start_component('contact')->{rc}, 0, 'contact started');
            ok(wait_for(15, sub { processed_has('mail', 'mail_old') == 0 }, 0.3), 'the old record is gone');
            is(processed_has('mail', 'mail_young'), 1, 'the young one stays');
        },
    },
]);

finish();
