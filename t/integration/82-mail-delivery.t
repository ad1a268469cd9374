#!/usr/bin/perl
# 82-mail-delivery.t: the mailer's guarantees beyond the happy path.  A mail request delivered
# twice (the outbox relay publishing a row again) is mailed once.  A mail the SMTP server
# refuses for good (5xx) goes to the dead-letter queue, is listed there with its reason, and
# is mailed once when an operator replays it.  Requests that can never become a mail are
# dead-lettered at once.  order.created and order.status_changed mail the customer.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;
use JSON::PP ();
use Encode ();
use IO::Socket::INET ();
use Time::HiRes ();

my $C    = '/api/contact';
my $SHOP = 'contacto@floresvictoria.cl';
my $DEAD = 'contact.mailer';
my $JSON = JSON::PP->new->utf8->canonical;
my $UUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
my %ctx;

# A sink of our own that refuses every recipient with a 5xx, on the stack's SMTP port.  It is
# stopped before Flores::Test's END restarts the stack's sink (END blocks run in reverse).
my $REFUSER;
END { if ($REFUSER) { kill 'TERM', $REFUSER; waitpid $REFUSER, 0 } }

sub start_refuser {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('smtp-sink', ($> == 0 ? ('-u', 'nobody') : ()), '-f', 'RCPT', '127.0.0.1:' . smtp_port(), '10')
            or exit 127;
    }
    $REFUSER = $pid;
    return wait_for(10, sub { my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => smtp_port(), Timeout => 1); $s ? 1 : 0 });
}

sub stop_refuser {
    return 1 unless $REFUSER;
    kill 'TERM', $REFUSER;
    waitpid $REFUSER, 0;
    $REFUSER = undef;
    return 1;
}

sub events { return run_cmd([events_bin(), @_], timeout => 60) }

# The dead letters of the mailer whose event satisfies $match.
sub dead_where {
    my ($match) = @_;
    my $r = events('dead', 'list', '--queue', $DEAD);
    my @hits;
    for my $line (split /\n/, $r->{out}) {
        my $d = eval { $JSON->decode(Encode::encode('UTF-8', $line)) } or next;
        push @hits, $d if ref $d->{event} eq 'HASH' && $match->($d->{event});
    }
    return @hits;
}

sub publish {
    my ($type, $data) = @_;
    my $r = events('publish', '--type', $type, '--data', JSON::PP->new->canonical->encode($data));
    is($r->{rc}, 0, "flores-events publish $type") or diag($r->{text});
    (my $id = $r->{out}) =~ s/\s+//g;
    return $id;
}

sub mails_to { my ($to, $timeout, $count, $settle) = @_;
    return wait_mails($timeout, sub { grep { $_ eq $to } @{ $_[0]{rcpt} } }, $count, $settle) }

sub log_has {
    my ($needle) = @_;
    open my $fh, '<', "$ENV{FLORES_LOG_DIR}/contact.log" or return 0;
    while (my $l = <$fh>) { return 1 if index($l, $needle) >= 0 }
    return 0;
}

run_blocks([
    # ---- a duplicate delivery of one request
    {
        name    => 'a password-reset mail goes out',
        setup   => sub { $ctx{user} = register_user(tag => 'dup') },
        request => sub { ['POST', '/api/auth/forgot-password', { email => $ctx{user}{email} }] },
        status  => 202,
        then    => sub {
            my @m = mails_to($ctx{user}{email}, 30, 1);
            is(scalar @m, 1, 'one mail to the user');
            ($ctx{dup_id}) = (mail_header($m[0] || {}, 'Message-ID') // '') =~ /^<($UUID)\@/;
            ok($ctx{dup_id}, 'its Message-ID names the request');
            is(pg_value('SELECT count(*) FROM auth.outbox WHERE event_id = $1 AND published_at IS NOT NULL',
                $ctx{dup_id}), 1, 'the request is the auth outbox row, published');
        },
    },
    {
        # Protects: at-least-once delivery does not become two mails.  The relay publishing a
        # row again (as after a crash between the broker's confirm and marking the row) sends
        # the same event id a second time.
        name => 'the outbox publishes the same request again: no second mail',
        then => sub {
            # That crash leaves the row unmarked and so not yet redacted (the relay redacts a
            # secret row in the statement that marks it): its payload is put back as it was,
            # rebuilt from the mail, which carried all of it.
            my ($m) = mails_to($ctx{user}{email}, 5, 1);
            my ($link) = (mail_part($m || {}, 'text/plain') // '') =~ m{(https://\S+\?token=[A-Za-z0-9_-]{43})};
            my $payload = JSON::PP->new->canonical->encode({ template => 'password_reset', to => $ctx{user}{email},
                toName => $ctx{user}{name}, vars => { name => $ctx{user}{name}, resetUrl => $link // '',
                expiresMinutes => 30 } });
            is(pg_value('UPDATE auth.outbox SET published_at = NULL, payload = $2::jsonb WHERE event_id = $1 RETURNING 1',
                $ctx{dup_id}, $payload), 1, 'the row is unpublished again');
            ok(wait_for(20, sub { pg_value('SELECT count(*) FROM auth.outbox WHERE event_id = $1 AND published_at IS NOT NULL',
                $ctx{dup_id}) == 1 }), 'and published a second time');
            ok(wait_for(20, sub { log_has("mail $ctx{dup_id} (password_reset) already sent") }),
                'the mailer saw it and dropped it');
            is(scalar(mails_to($ctx{user}{email}, 0, 1, 2)), 1, 'still one mail to the user');
            is(pg_value(q{SELECT count(*) FROM mail.processed_events WHERE consumer = 'mailer' AND event_id = $1},
                $ctx{dup_id}), 1, 'one record of it');
        },
    },

    # ---- a permanent refusal, the dead-letter queue, and a replay
    {
        name => 'replace the SMTP sink by one that refuses every recipient (5xx)',
        then => sub {
            is(stop_component('smtp')->{rc}, 0, './flores stop smtp');
            ok(start_refuser(), 'smtp-sink -f RCPT listens on the SMTP port');
        },
    },
    {
        name    => 'a contact message while the server refuses',
        request => sub { ['POST', $C, { name => 'Rosa Rechazo', email => ($ctx{dead} = unique_email('dead')),
                                        subject => 'reclamo', message => 'Este correo será rechazado y repetido' }] },
        status  => 202,
        then    => sub { $ctx{dead_ticket} = $_[0]{json}{data}{ticket} },
    },
    {
        # Protects: a 5xx is final: no retry storm, the message is kept for an operator.
        name => 'both mails are dead-lettered at once, listed with their reason',
        then => sub {
            my $mine = sub { (($_[0]{data} || {})->{vars} || {})->{ticket} // '' };
            my @d = ();
            wait_for(20, sub { @d = dead_where(sub { $mine->($_[0]) eq $ctx{dead_ticket} }); @d >= 2 });
            is(scalar @d, 2, 'two dead letters for the ticket');
            for my $d (@d) {
                json_like($d, { reason => 'rejected', attempts => 1, routingKey => 'mail.requested',
                                consumer => $DEAD, deadAt => qr/Z\z/, event => { type => 'mail.requested', id => qr/^$UUID\z/ } },
                    'dead letter ' . ($d->{event}{data}{template} // '?'));
            }
            ok(log_has("SMTP 500"), 'the log names the SMTP reply');
        },
    },
    {
        name => 'the stack\'s sink returns',
        then => sub {
            ok(stop_refuser(), 'the refusing sink is stopped');
            is(start_component('smtp')->{rc}, 0, './flores start smtp');
        },
    },
    {
        # Protects: an operator can replay dead letters, and they are then mailed once.
        name => 'replay: both mails arrive, once each',
        then => sub {
            my $r = events('dead', 'replay', '--queue', $DEAD);
            is($r->{rc}, 0, 'flores-events dead replay') or diag($r->{text});
            my @m = wait_mails(60, sub { (mail_header($_[0], 'Subject') // '') =~ /\Q$ctx{dead_ticket}\E/ }, 2, 3);
            is(scalar(grep { "@{ $_->{rcpt} }" eq $SHOP } @m), 1, 'the shop\'s mail once');
            is(scalar(grep { "@{ $_->{rcpt} }" eq $ctx{dead} } @m), 1, 'the acknowledgement once');
            my @left = dead_where(sub { ((($_[0]{data} || {})->{vars} || {})->{ticket} // '') eq $ctx{dead_ticket} });
            is(scalar @left, 0, 'no longer dead');
        },
    },

    # ---- requests that can never be mailed
    (map {
        my ($what, $data) = @$_;
        +{
            # Protects: a bad request is set aside at once, not retried for hours, never sent.
            name => "dead-lettered at once: $what",
            then => sub {
                my $to = $data->{to} // '';
                my $id = publish('mail.requested', $data);
                my @d;
                wait_for(20, sub { @d = dead_where(sub { $_[0]{id} eq $id }); @d });
                is(scalar @d, 1, 'in the dead-letter queue');
                is($d[0]{attempts}, 1, 'after one attempt') if @d;
                is(scalar(mails_to($to, 0)), 0, 'no mail') if $to =~ /\@/;
            },
        }
    } (
        ['an unknown template', { template => 'nope', to => unique_email('bad1'), vars => {} }],
        ['a placeholder without its variable', { template => 'contact_ack', to => unique_email('bad2'), vars => { name => 'X' } }],
        ['a recipient that is not an address', { template => 'contact_ack', to => "x\@example.com\r\nBcc: y\@example.com",
                                                 vars => { name => 'X', ticket => 'T', subject => 'S' } }],
        ['a display name with a line break', { template => 'contact_ack', to => unique_email('bad4'), toName => "X\r\nBcc: y\@example.com",
                                                vars => { name => 'X', ticket => 'T', subject => 'S' } }],
        ['no vars', { template => 'contact_ack', to => unique_email('bad5') }],
    )),

    # ---- order mails
    {
        # Protects: the customer hears about a new order, in Spanish, with pesos.
        name => 'order.created mails the customer',
        then => sub {
            $ctx{oemail} = unique_email('orden');
            $ctx{number} = 'FV-20261127-' . sprintf('%05d', int rand 99999);
            $ctx{order} = { orderId => 42, number => $ctx{number}, userId => 7, email => $ctx{oemail},
                            name => 'Óscar Muñoz', status => 'pending', total => 52980,
                            items => [{ productId => 'AML001', name => 'Ramo de 12 rosas rojas', price => 24990,
                                        quantity => 2, lineTotal => 49980 }] };
            my $id = publish('order.created', $ctx{order});
            my @m = mails_to($ctx{oemail}, 30, 1, 1);
            is(scalar @m, 1, 'one mail') or return;
            my $m = $m[0];
            is_deeply($m->{problems}, [], 'well-formed');
            is(mail_header($m, 'To'), "Óscar Muñoz <$ctx{oemail}>", 'To the customer');
            is(mail_header($m, 'Subject'), "Recibimos tu pedido $ctx{number}", 'subject');
            is(mail_header($m, 'Message-ID'), "<$id\@floresvictoria.cl>", 'Message-ID from the event id');
            my $text = mail_part($m, 'text/plain');
            like($text, qr/2 × Ramo de 12 rosas rojas: \$49\.980/, 'the item line');
            like($text, qr/Total: \$52\.980/, 'the total in pesos');
            like($text, qr/pendiente de confirmación/, 'the status in Spanish');
        },
    },
    {
        name => 'order.status_changed mails the customer',
        then => sub {
            publish('order.status_changed', { %{ $ctx{order} }, status => 'shipped' });
            my @m = wait_mails(30, sub { grep({ $_ eq $ctx{oemail} } @{ $_[0]{rcpt} })
                && (mail_header($_[0], 'Subject') // '') =~ /en camino/ }, 1, 1);
            is(scalar @m, 1, 'one mail');
            is(mail_header($m[0] || {}, 'Subject'), "Tu pedido $ctx{number} está en camino", 'subject');
        },
    },
    {
        name => 'an order event without an email is dead-lettered',
        then => sub {
            my $id = publish('order.created', { orderId => 1, number => 'FV-20261127-00001', status => 'pending' });
            my @d;
            wait_for(20, sub {
                my $r = events('dead', 'list', '--queue', 'contact.order-mail');
                @d = grep { index($_, $id) >= 0 } split /\n/, $r->{out};
                @d });
            is(scalar @d, 1, 'in contact.order-mail.dead');
        },
    },
]);

finish();
