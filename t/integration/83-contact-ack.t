#!/usr/bin/perl
# 83-contact-ack.t: the acknowledgement mail cannot be used as a spam relay.  At most
# FLORES_ACK_PER_RECIPIENT_DAY (3 in the stack) acknowledgements per recipient address per UTC
# day, the address compared after trimming and lower-casing, while the shop's copy of every
# message is always delivered; the count is kept in mail.ack_sent as hashes, never addresses.
# The acknowledgement carries no text of the sender's but a name of at most 60 characters with
# nothing link-like in it (otherwise a neutral greeting), and the mailer enforces that on any
# contact_ack request, not only on those the form writes.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;
use Digest::SHA ();
use JSON::PP ();

my $C      = '/api/contact';
my $SHOP   = 'contacto@floresvictoria.cl';          # FLORES_SHOP_EMAIL
my $LIMIT  = 3;                                      # FLORES_ACK_PER_RECIPIENT_DAY
my $TICKET = qr/CT-\d{8}-[0-9A-HJKMNP-TV-Z]{6}/;
my %ctx;

sub form {
    my (%f) = @_;
    return api('POST', $C, { name => 'Ana Rosa', subject => 'consulta',
                             message => 'Hola, ¿hacen envíos a Ñuñoa el domingo?', %f },
               undef, { source => next_source_address() });
}

sub mails_to { my ($to, $timeout, $count, $settle) = @_;
    return wait_mails($timeout, sub { grep { $_ eq $to } @{ $_[0]{rcpt} } }, $count, $settle) }

sub shop_copies {
    my ($tickets, $timeout) = @_;
    my %want = map { $_ => 1 } @$tickets;
    return wait_mails($timeout, sub {
        my $s = mail_header($_[0], 'Subject') // '';
        "@{ $_[0]{rcpt} }" eq $SHOP && $s =~ /\(($TICKET)\)/ && $want{$1};
    }, scalar @$tickets);
}

# The acknowledgement of one ticket, once it arrived.
sub ack_of {
    my ($to, $ticket) = @_;
    my ($m) = wait_mails(30, sub { "@{ $_[0]{rcpt} }" eq $to
        && (mail_header($_[0], 'Subject') // '') =~ /\Q$ticket\E/ }, 1);
    return $m;
}

sub publish_ack {
    my ($data) = @_;
    my $r = run_cmd([events_bin(), 'publish', '--type', 'mail.requested', '--data',
                     JSON::PP->new->canonical->encode($data)], timeout => 60);
    is($r->{rc}, 0, 'flores-events publish mail.requested') or diag($r->{text});
    (my $id = $r->{out}) =~ s/\s+//g;
    return $id;
}

sub log_lines_with {
    my ($needle) = @_;
    open my $fh, '<:raw', "$ENV{FLORES_LOG_DIR}/contact.log" or return ();
    return grep { index($_, $needle) >= 0 } <$fh>;
}

run_blocks([
    {
        # Protects: the form as a spam relay.  Five messages naming one recipient in a day
        # (written five ways that normalise to one address) give the shop five copies and the
        # recipient exactly three acknowledgements; every request still answers 202.
        name => 'five messages to one recipient: five shop copies, three acknowledgements',
        then => sub {
            my $addr = $ctx{victim} = unique_email('ackcap');
            my @forms = ($addr, uc($addr), " $addr\t", ucfirst($addr), "\r\n$addr ");
            my @tickets;
            for my $e (@forms) {
                my $res = form(email => $e);
                is($res->{status}, 202, 'answered 202') or diag($res->{raw});
                push @tickets, $res->{json}{data}{ticket} // '';
            }
            my @shop = shop_copies(\@tickets, 40);
            is(scalar @shop, 5, 'five copies to the shop');
            my @acks = mails_to($addr, 40, $LIMIT, 4);
            is(scalar @acks, $LIMIT, "exactly $LIMIT acknowledgements to the recipient");
            ok(wait_for(20, sub { scalar log_lines_with('(contact_ack) skipped') >= 2 }),
                'the skipped acknowledgements are logged');
            my $hash = Digest::SHA::sha256_hex($addr);
            is(pg_value('SELECT sent FROM mail.ack_sent WHERE recipient = $1', $hash), $LIMIT,
                "mail.ack_sent counts $LIMIT sent");
            is(pg_value('SELECT skipped FROM mail.ack_sent WHERE recipient = $1', $hash), 2,
                'and 2 skipped');
            my ($local) = $addr =~ /^([^@]+)/;
            is(scalar(grep { index($_, $local) >= 0 } log_lines_with('skipped')), 0,
                'the log lines do not name the address');
            my $dump = pg_dump_schema('mail') // '';
            is(index($dump, $local), -1, 'the mail schema holds no address in clear');
        },
    },
    {
        # Protects: the count is per recipient: another address is not affected.
        name => 'another recipient still gets its acknowledgement',
        then => sub {
            my $other = unique_email('ackother');
            my $res = form(email => $other);
            is($res->{status}, 202, '202');
            my $t = $res->{json}{data}{ticket} // '';
            ok(ack_of($other, $t), 'acknowledged');
        },
    },
    {
        # Protects: a name that is a link (or carries one) never reaches the recipient: the
        # acknowledgement greets neutrally, names nobody in To, and the shop still sees it all.
        name => 'a name with a link: the acknowledgement leaves it out',
        then => sub {
            my @names = ('Gana dinero en www.premios.cl', 'Visita oferta.com ya', 'Ana http://x',
                         'Ana <b>Rosa</b>', 'ana@spam.example');
            for my $n (@names) {
                my $to = unique_email('acklink');
                my $res = form(email => $to, name => $n, message => 'Mira https://phish.example/login ahora');
                is($res->{status}, 202, "202 for '$n'") or next;
                my $t = $res->{json}{data}{ticket};
                my $ack = ack_of($to, $t);
                ok($ack, "acknowledged ($n)") or next;
                is_deeply($ack->{problems}, [], 'well-formed');
                is(mail_header($ack, 'To'), "<$to>", 'To without a name');
                my $text = mail_part($ack, 'text/plain') // '';
                my $html = mail_part($ack, 'text/html') // '';
                like($text, qr/^Hola:/m, 'a neutral greeting');
                for my $part ($text, $html, mail_header($ack, 'Subject') // '') {
                    for my $bit (grep { length > 2 } split /[\s<>\/@]+/, $n) {
                        is(index($part, $bit), -1, "'$bit' appears nowhere");
                    }
                    unlike($part, qr/phish/, 'nor the message');
                }
                my ($shop) = shop_copies([$t], 30);
                like(mail_header($shop || {}, 'Subject') // '', qr/\Q$n\E/, 'the shop sees the name');
            }
        },
    },
    {
        # Protects: the name is cut to 60 characters, never inside a UTF-8 character.
        name => 'a long name is cut to 60 characters',
        then => sub {
            my $to = unique_email('acklong');
            my $name = 'Ñ' . ('á' x 58) . 'ZXY' . ('é' x 38);       # 100 characters
            my $res = form(email => $to, name => $name);
            is($res->{status}, 202, '202');
            my $ack = ack_of($to, $res->{json}{data}{ticket} // '');
            ok($ack, 'acknowledged') or return;
            my $cut = substr($name, 0, 60);
            like(mail_part($ack, 'text/plain') // '', qr/^Hola \Q$cut\E:$/m, 'greets with the first 60 characters');
            is(mail_header($ack, 'To'), "$cut <$to>", 'and names them in To');
            for my $part (mail_part($ack, 'text/plain'), mail_part($ack, 'text/html'), mail_header($ack, 'To')) {
                unlike($part // '', qr/XY|é/, 'nothing after the 60th character');
            }
        },
    },
    {
        # Protects: the mailer applies the rules to any contact_ack request, whoever wrote it:
        # a 200-character name, a free-text subject and the message in the variables (as
        # requests queued by an older form, or published by another service, may carry).
        name => 'a contact_ack request with a 200-character name and free text',
        then => sub {
            my $to = unique_email('ackreq');
            my $name = ('ü' x 199) . 'Q';
            my $ticket = 'CT-20261207-7K3M9Q';
            $ctx{req} = publish_ack({ template => 'contact_ack', to => $to, toName => $name,
                vars => { ticket => $ticket, name => $name, subject => 'Compra en https://spam.example',
                          message => 'SPAM-TEXT visita spam.example', email => $to } });
            my $ack = ack_of($to, $ticket);
            ok($ack, 'acknowledged') or return;
            my $cut = 'ü' x 60;
            like(mail_part($ack, 'text/plain') // '', qr/^Hola \Q$cut\E:$/m, 'the name cut to 60 characters');
            is(mail_header($ack, 'To'), "$cut <$to>", 'To too');
            for my $part (mail_part($ack, 'text/plain'), mail_part($ack, 'text/html'), mail_header($ack, 'To'),
                          mail_header($ack, 'Subject')) {
                unlike($part // '', qr/üQ|ü{61}|spam/i, 'no free text: name cut, subject label fixed, message not echoed');
            }
            like(mail_part($ack, 'text/plain') // '', qr/^Motivo: Otro$/m, 'an unknown subject reads "Otro"');
        },
    },
    {
        # Protects: the mailer's memory of sent mail holds ids, never bodies or links: after a
        # password-reset mail is delivered, nothing of it but its id is in the mail schema.
        name => 'the mail schema keeps no reset link',
        then => sub {
            my $user = register_user(tag => 'ackreset');
            my $res = api('POST', '/api/auth/forgot-password', { email => $user->{email} }, undef,
                          { source => next_source_address() });
            is($res->{status}, 202, 'forgot-password 202');
            my ($m) = mails_to($user->{email}, 30, 1);
            ok($m, 'the reset mail went out') or return;
            my ($token) = (mail_part($m, 'text/plain') // '') =~ /[?&#]token=([A-Za-z0-9_-]{16,})/;
            ok($token, 'it carries a token') or return;
            my $dump = pg_dump_schema('mail') // '';
            ok(length $dump, 'the mail schema dumped');
            is(index($dump, $token), -1, 'the token is nowhere in the mail schema');
            unlike($dump, qr/restablecer-clave|token=/, 'nor any link');
        },
    },
]);

finish();
