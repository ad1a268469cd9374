#!/usr/bin/perl
# 81-contact-outage.t: the contact form and its mail through outages.  Broker down: 503 and
# nothing queued.  SMTP server down: the client still gets 202 and the mail arrives, once,
# when the server returns; PostgreSQL down: the same.  Mailer killed (SIGKILL) in the middle
# of a send and restarted: the mail is neither lost nor doubled; the same with ten mails in
# hand or queued.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;
use Time::HiRes ();

my $C    = '/api/contact';
my $SHOP = 'contacto@floresvictoria.cl';
my $PIDS = "$ENV{FLORES_STACK_DIR}/pid";
my %ctx;

sub pid_of {
    my $c = shift;
    open my $fh, '<', "$PIDS/$c.pid" or return undef;
    my $pid = <$fh>;
    close $fh;
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

sub alive { my $pid = shift; return 0 unless $pid && kill(0, $pid); my $s = `ps -o stat= -p $pid`; return $s !~ /Z/ }

# Mails of a ticket, waiting up to $timeout seconds for $count and then $settle more.
sub ticket_mails {
    my ($ticket, $timeout, $count, $settle) = @_;
    return wait_mails($timeout, sub { (mail_header($_[0], 'Subject') // '') =~ /\Q$ticket\E/ }, $count, $settle);
}

# Two mails (shop and sender), each exactly once.
sub delivered_once {
    my ($ticket, $email, @mails) = @_;
    my @shop = grep { "@{ $_->{rcpt} }" eq $SHOP } @mails;
    my @ack  = grep { "@{ $_->{rcpt} }" eq $email } @mails;
    is(scalar @shop, 1, "$ticket: the shop's mail exactly once");
    is(scalar @ack, 1, "$ticket: the acknowledgement exactly once");
}

# A frozen sink or a killed service is put back whatever happens.
cleanup(sub { my $p = pid_of('smtp'); kill 'CONT', $p if $p });
cleanup(sub { flores('start', 'contact') unless alive(pid_of('contact')) });

run_blocks([
    # ---- the broker
    {
        name => 'stop the broker',
        then => sub { is(stop_component('rabbitmq')->{rc}, 0, './flores stop rabbitmq') },
    },
    {
        # Protects: no 202 unless the message is safely queued.
        name    => 'broker down: 503, promptly',
        request => sub { $ctx{lost} = 'marca-broker-' . random_hex(4);
                         ['POST', $C, { name => 'Rosa Outage', email => unique_email('broker'),
                                        subject => 'pedido', message => "Mensaje de prueba $ctx{lost}" }] },
        status  => 503,
        code    => 'SERVICE_UNAVAILABLE',
        max_ms  => 8000,
        headers_like => { 'Retry-After' => qr/^\d+$/ },
    },
    {
        name => 'start the broker',
        then => sub { is(start_component('rabbitmq')->{rc}, 0, './flores start rabbitmq') },
    },
    {
        # Protects: the service reconnects by itself, and the mailer consumes again.
        name => 'broker back: 202 again without a restart, and the mail goes out',
        then => sub {
            my $res = wait_for(30, sub { my $r = api('POST', $C, { name => 'Rosa Vuelta',
                email => ($ctx{back} = unique_email('back')), subject => 'consulta',
                message => 'De vuelta después de la caída' }); $r->{status} == 202 ? $r : 0 }, 1);
            ok($res, '202 within 30 s of the broker\'s return') or return;
            my $t = $res->{json}{data}{ticket};
            delivered_once($t, $ctx{back}, ticket_mails($t, 60, 2, 2));
        },
    },
    {
        # Protects: "nothing accepted": the refused message never reaches anyone.
        name => 'the message refused while the broker was down was never mailed',
        then => sub {
            my @m = mails_where(sub { index($_[0]{raw}, $ctx{lost}) >= 0 });
            is(scalar @m, 0, 'no mail holds its text');
        },
    },

    # ---- the SMTP server
    {
        name => 'stop the SMTP sink',
        then => sub { is(stop_component('smtp')->{rc}, 0, './flores stop smtp') },
    },
    {
        # Protects: the mail server is not on the form's path.
        name    => 'SMTP down: still 202, promptly',
        request => sub { ['POST', $C, { name => 'Rosa Sin Correo', email => ($ctx{smtp} = unique_email('smtp')),
                                        subject => 'evento', message => 'Escribo mientras el correo está caído' }] },
        status  => 202,
        max_ms  => 3000,
        then    => sub { $ctx{smtp_ticket} = $_[0]{json}{data}{ticket} },
    },
    {
        name => 'nothing can arrive meanwhile; start the SMTP sink after 4 s',
        then => sub {
            Time::HiRes::sleep(4);
            is(scalar(ticket_mails($ctx{smtp_ticket}, 0)), 0, 'no mail yet');
            is(start_component('smtp')->{rc}, 0, './flores start smtp');
        },
    },
    {
        # Protects: retried with backoff and delivered once the server is back, each once.
        name => 'SMTP back: both mails arrive within 60 s, once each',
        then => sub { delivered_once($ctx{smtp_ticket}, $ctx{smtp}, ticket_mails($ctx{smtp_ticket}, 60, 2, 3)) },
    },

    # ---- PostgreSQL (the mailer's memory of sent mail)
    {
        name => 'stop PostgreSQL',
        then => sub { is(stop_component('postgres')->{rc}, 0, './flores stop postgres') },
    },
    {
        # Protects: the form never needs the database; the mailer waits for it rather than
        # send without recording (which could send twice).
        name    => 'PostgreSQL down: still 202, and no mail yet',
        request => sub { ['POST', $C, { name => 'Rosa Sin Base', email => ($ctx{pg} = unique_email('pg')),
                                        subject => 'consulta', message => 'Escribo con la base de datos caída' }] },
        status  => 202,
        max_ms  => 3000,
        then    => sub {
            $ctx{pg_ticket} = $_[0]{json}{data}{ticket};
            Time::HiRes::sleep(3);
            is(scalar(ticket_mails($ctx{pg_ticket}, 0)), 0, 'nothing sent while the sent-mail record is unreachable');
            is(start_component('postgres')->{rc}, 0, './flores start postgres');
        },
    },
    {
        name => 'PostgreSQL back: both mails arrive, once each',
        then => sub { delivered_once($ctx{pg_ticket}, $ctx{pg}, ticket_mails($ctx{pg_ticket}, 60, 2, 3)) },
    },

    # ---- the mailer killed in the middle of a send
    {
        # A frozen (SIGSTOP) sink accepts connections and never answers: the mailer holds the
        # message, connected, waiting for the greeting, without an acknowledgement.
        name    => 'freeze the SMTP sink, send a message',
        setup   => sub { $ctx{sink} = pid_of('smtp'); ok(kill('STOP', $ctx{sink}), "SIGSTOP smtp-sink $ctx{sink}") },
        request => sub { ['POST', $C, { name => 'Rosa Muerta', email => ($ctx{kill} = unique_email('kill')),
                                        subject => 'reclamo', message => 'Este mensaje sobrevive a un SIGKILL' }] },
        status  => 202,
        then    => sub { $ctx{kill_ticket} = $_[0]{json}{data}{ticket} },
    },
    {
        name => 'the mailer is in the middle of a send: kill it (SIGKILL)',
        then => sub {
            my $port = smtp_port();
            my $pid = pid_of('contact');
            my $talking = wait_for(10, sub { scalar(grep { /pid=$pid,/ } `ss -Htnp state established '( dport = :$port )' 2>/dev/null`) });
            ok($talking, "flores-contact ($pid) holds a connection to the SMTP port");
            ok(kill('KILL', $pid), "SIGKILL flores-contact $pid");
            ok(wait_for(10, sub { !alive($pid) }), 'it is gone');
            ok(kill('CONT', $ctx{sink}), 'thaw the sink');
        },
    },
    {
        name => 'restart the service',
        then => sub { is(flores('start', 'contact')->{rc}, 0, './flores start contact') },
    },
    {
        # Protects: acknowledged only after the server accepted: the broker hands the message
        # out again, and the mail goes out exactly once.
        name => 'after the restart the mails arrive, once each',
        then => sub { delivered_once($ctx{kill_ticket}, $ctx{kill}, ticket_mails($ctx{kill_ticket}, 60, 2, 3)) },
    },

    # ---- the mailer killed with messages in hand and queued
    {
        # Ten mails: one in the middle of a send to the frozen sink, the others prefetched
        # by the mailer or still in the queue, none acknowledged.
        name => 'five messages while the sink is frozen, then the mailer killed',
        then => sub {
            $ctx{sink} = pid_of('smtp');
            ok(kill('STOP', $ctx{sink}), "SIGSTOP smtp-sink $ctx{sink}");
            for my $i (1 .. 5) {
                my $email = unique_email("burst$i");
                my $r = api('POST', $C, { name => "Rosa Ráfaga $i", email => $email, subject => 'otro',
                                          message => "Ráfaga número $i de cinco" });
                is($r->{status}, 202, "message $i accepted");
                push @{ $ctx{burst} }, [$r->{json}{data}{ticket} // 'none', $email];
            }
            Time::HiRes::sleep(1);
            my $pid = pid_of('contact');
            ok(kill('KILL', $pid), "SIGKILL flores-contact $pid");
            ok(wait_for(10, sub { !alive($pid) }), 'it is gone');
            ok(kill('CONT', $ctx{sink}), 'thaw the sink');
            is(flores('start', 'contact')->{rc}, 0, './flores start contact');
        },
    },
    {
        # Protects: nothing lost, nothing doubled, for every message the dead mailer held.
        name => 'every mail arrives exactly once',
        then => sub {
            for my $b (@{ $ctx{burst} || [] }) {
                my ($t, $email) = @$b;
                delivered_once($t, $email, ticket_mails($t, 60, 2, 0));
            }
            Time::HiRes::sleep(3);
            for my $b (@{ $ctx{burst} || [] }) {
                my ($t, $email) = @$b;
                is(scalar(ticket_mails($t, 0)), 2, "$t: still two mails 3 s later");
            }
        },
    },
]);

finish();
