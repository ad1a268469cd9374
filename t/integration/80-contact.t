#!/usr/bin/perl
# 80-contact.t: POST /api/contact: every bad field at once, header-injection attempts refused,
# phone numbers, the 202 with a ticket; then the mail as the SMTP sink received it: the shop's
# copy (envelope recipient, To, Reply-To the sender, RFC 2047 subject, text and HTML bodies,
# Message-ID = the mail request's event id) and the acknowledgement to the sender; and the
# events on the bus (two mail.requested, one contact.submitted).

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Flores::Mail;
use Test::More;

my $C       = '/api/contact';
my $SHOP    = 'contacto@floresvictoria.cl';          # FLORES_SHOP_EMAIL, conf/services/contact.env
my $FROM    = 'no-reply@floresvictoria.cl';          # FLORES_MAIL_FROM
my $UUID    = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
my $TICKET  = qr/^CT-\d{8}-[0-9A-HJKMNP-TV-Z]{6}\z/;
my $VICTIM  = 'victima-' . random_hex(4) . '@example.com';
my $queue   = unique_queue('contact');
my %ctx;

cleanup(sub { events_delete($queue) });

sub good {
    return { name => 'Ana Rosa', email => unique_email('ct'), subject => 'consulta',
             message => 'Hola, ¿hacen envíos a Ñuñoa el domingo?', @_ };
}

sub invalid {
    my ($name, $body, @fields) = @_;
    return {
        name    => $name,
        request => sub { ['POST', $C, ref $body eq 'CODE' ? $body->() : $body] },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => \@fields,
    };
}

# Every event of the test queue so far, by ticket: {ticket => [events]}.
my %BUS;
sub bus_for {
    my ($ticket, $want, $timeout) = @_;
    my $deadline = time + $timeout;
    while (@{ $BUS{$ticket} || [] } < $want && time < $deadline) {
        my ($rc, $msgs) = events_tail($queue, 20, 2);
        for my $m (@$msgs) {
            my $d = $m->{data} || {};
            my $t = $d->{ticket} // ($d->{vars} || {})->{ticket} // '';
            push @{ $BUS{$t} }, $m;
        }
    }
    return @{ $BUS{$ticket} || [] };
}

sub mails_with {
    my ($ticket, $count, $settle) = @_;
    return wait_mails(30, sub { (mail_header($_[0], 'Subject') // '') =~ /\Q$ticket\E/ }, $count, $settle);
}

run_blocks([
    {
        name => 'a durable queue bound to mail.requested and contact.submitted',
        then => sub {
            my $r = run_cmd([events_bin(), 'declare', '--queue', $queue, '--bind', 'mail.requested',
                             '--bind', 'contact.submitted'], timeout => 30);
            is($r->{rc}, 0, "flores-events declare $queue") or diag($r->{text});
        },
    },

    # ---- every bad field, listed together
    invalid('empty object: the four required fields', {}, qw(name email subject message)),
    invalid('four bad values at once', { name => 'A', email => 'no-es-correo', subject => 'regalo',
                                         message => 'corto' }, qw(name email subject message)),
    invalid('name of 101 characters', sub { good(name => 'ñ' x 101) }, 'name'),
    invalid('message of 9 characters', sub { good(message => 'ñ' x 9) }, 'message'),
    invalid('message of 5001 characters', sub { good(message => 'm' x 5001) }, 'message'),
    invalid('subject outside the list (case matters)', sub { good(subject => 'Pedido') }, 'subject'),
    invalid('wrong types', sub { good(name => 12345, phone => 56912345678, message => ['x' x 20]) },
        qw(name phone message)),
    invalid('phone of 31 characters', sub { good(phone => '+56 9 1234 5678 ' . ('1' x 15)) }, 'phone'),

    # ---- header injection: a line break (or any control character) in a field that reaches a
    # header is refused, never sent.  Protects: no Bcc/Cc smuggled into the shop's mail.
    invalid('CRLF and Bcc in the name', sub { good(name => "Ana\r\nBcc: $VICTIM") }, 'name'),
    invalid('LF in the name', sub { good(name => "Ana\nRosa") }, 'name'),
    invalid('CR in the name', sub { good(name => "Ana\rRosa") }, 'name'),
    invalid('NUL in the name', sub { good(name => "Ana\x{0}Rosa") }, 'name'),
    invalid('C1 control (NEL) in the name', sub { good(name => "Ana\x{85}Rosa") }, 'name'),
    invalid('CRLF and Bcc in the email', sub { good(email => "ana\@example.com\r\nBcc: $VICTIM") }, 'email'),
    invalid('LF and Cc in the email', sub { good(email => "ana\@example.com\nCc: $VICTIM") }, 'email'),
    invalid('angle brackets in the email', sub { good(email => "ana\@example.com>, <$VICTIM") }, 'email'),
    invalid('CRLF and Bcc in the subject', sub { good(subject => "pedido\r\nBcc: $VICTIM") }, 'subject'),

    # ---- phone numbers: checked once every other field is right
    (map { my $p = $_; invalid("phone '$p'", sub { good(phone => $p) }, 'phone') }
        '12345678', '+56 9 1234 567', '0 9 1234 5678', '+1234567', 'nueve uno dos', '+56 9 1234 5678 ext 2'),
    {
        # Protects: a Chilean mobile written any usual way is accepted and mailed in E.164.
        name    => 'a Chilean mobile with spaces',
        request => sub { ['POST', $C, good(phone => '9 8765 4321', subject => 'pedido')] },
        status  => 202,
        then    => sub {
            my $t = $_[0]{json}{data}{ticket} // '';
            my ($shop) = grep { "@{ $_->{rcpt} }" eq $SHOP } mails_with($t, 2);
            like(mail_part($shop || {}, 'text/plain') // '', qr/\+56987654321/, 'the shop sees +56987654321');
        },
    },
    {
        name    => 'an international number',
        request => sub { ['POST', $C, good(phone => '+34 612 345 678')] },
        status  => 202,
    },
    {
        name    => 'phone null is absent',
        request => sub { ['POST', $C, good(phone => undef)] },
        status  => 202,
    },

    # ---- the message, end to end
    {
        # Protects: the contract's answer: 202, a human ticket and the event id.
        name    => 'a message with accents, markup and awkward lines is accepted',
        request => sub {
            $ctx{email} = unique_email('contacto');
            $ctx{body} = { name => 'José Pérez-Ñuñez', email => uc($ctx{email}), subject => 'cotizacion',
                           message => "Hola:\nNecesito 50 arreglos <script>alert(1)</script> & más.\n"
                                    . ".\nUna línea con solo un punto arriba; ¿precio?\n\nGracias",
                           extra => 'ignorado' };
            ['POST', $C, $ctx{body}];
        },
        status  => 202,
        json    => { status => 'success', data => { ticket => $TICKET, eventId => qr/^$UUID\z/ } },
        then    => sub { $ctx{ticket} = $_[0]{json}{data}{ticket}; $ctx{event_id} = $_[0]{json}{data}{eventId} },
    },
    {
        # Protects: the shop's copy: right envelope and To, Reply-To the sender (so the shop
        # answers the customer), UTF-8 subject encoded per RFC 2047, both alternatives.
        name => 'the shop receives it, answerable to the sender',
        then => sub {
            my @mails = mails_with($ctx{ticket}, 2, 2);
            is(scalar @mails, 2, 'two mails for the ticket, no more');
            my ($shop) = grep { "@{ $_->{rcpt} }" eq $SHOP } @mails;
            ok($shop, "one to $SHOP") or return;
            $ctx{shop} = $shop;
            is($shop->{from}, $FROM, 'envelope sender');
            is_deeply($shop->{rcpt}, [$SHOP], 'envelope recipient: the shop only');
            is_deeply($shop->{problems}, [], 'well-formed message') or diag(explain($shop->{problems}));
            is(mail_header($shop, 'From'), "Flores Victoria <$FROM>", 'From');
            is(mail_header($shop, 'To'), "Flores Victoria <$SHOP>", 'To');
            is(mail_header($shop, 'Reply-To'), "José Pérez-Ñuñez <$ctx{email}>",
                'Reply-To: the sender, name decoded, address lower-cased');
            like($shop->{headers}{'reply-to'}[0], qr/^=\?UTF-8\?B\?/, 'the name is an encoded-word');
            like($shop->{headers}{subject}[0], qr/^=\?UTF-8\?[BQ]\?/, 'the subject is encoded (RFC 2047)');
            is(mail_header($shop, 'Subject'),
                "Nuevo mensaje de contacto: Cotización — José Pérez-Ñuñez ($ctx{ticket})", 'subject decodes');
            like(mail_header($shop, 'Message-ID'), qr/^<$UUID\@floresvictoria\.cl>\z/, 'Message-ID');
            like(mail_header($shop, 'Date'), qr/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\z/, 'Date');
            is(mail_header($shop, 'MIME-Version'), '1.0', 'MIME-Version');
            is(scalar(grep { defined $shop->{headers}{$_} } qw(bcc cc)), 0, 'no Bcc or Cc');
            is_deeply([map { "$_->{type};$_->{charset};$_->{encoding}" } @{ $shop->{parts} }],
                ['text/plain;UTF-8;quoted-printable', 'text/html;UTF-8;quoted-printable'], 'text and HTML, UTF-8');
            my $text = mail_part($shop, 'text/plain');
            (my $msg = $ctx{body}{message}) =~ s/\r//g;
            ok(index($text, $msg) >= 0, 'the text part holds the message exactly, lines and all')
                or diag($text);
            like($text, qr/\Q$ctx{email}\E/, 'and the sender\'s address');
            like($text, qr/\(no indicado\)/, 'no phone given');
            my $html = mail_part($shop, 'text/html');
            unlike($html, qr/<script>/, 'no live markup from the sender in the HTML');
            like($html, qr/&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; más/, 'escaped instead');
            like($html, qr/José Pérez-Ñuñez/, 'names in UTF-8');
            unlike($html, qr/\{\{/, 'every placeholder filled');
        },
    },
    {
        # Protects: the sender is told the ticket, and the form cannot be used to mail free
        # text to any address (the acknowledgement does not echo the message).
        name => 'the sender gets an acknowledgement with the ticket',
        then => sub {
            my ($ack) = grep { "@{ $_->{rcpt} }" eq $ctx{email} } mails_with($ctx{ticket}, 2);
            ok($ack, "one to $ctx{email}") or return;
            $ctx{ack} = $ack;
            is_deeply($ack->{problems}, [], 'well-formed message');
            is(mail_header($ack, 'To'), "José Pérez-Ñuñez <$ctx{email}>", 'To: the sender');
            is(mail_header($ack, 'Reply-To'), undef, 'no Reply-To');
            like(mail_header($ack, 'Subject'), qr/^Recibimos tu mensaje \(\Q$ctx{ticket}\E\)/, 'subject');
            my $text = mail_part($ack, 'text/plain');
            like($text, qr/Hola José Pérez-Ñuñez:/, 'greets by name');
            like($text, qr/\Q$ctx{ticket}\E/, 'gives the ticket');
            unlike($text, qr/arreglos/, 'does not echo the message');
            like(mail_part($ack, 'text/html'), qr/<strong>\Q$ctx{ticket}\E<\/strong>/, 'HTML part too');
            isnt(mail_header($ack, 'Message-ID'), mail_header($ctx{shop}, 'Message-ID'), 'its own Message-ID');
        },
    },
    {
        # Protects: what other services see: the mail requests (their ids are the Message-IDs)
        # and contact.submitted with the id the client was given.
        name => 'the events on the bus',
        then => sub {
            my @ev = bus_for($ctx{ticket}, 3, 20);
            my @mr = grep { $_->{type} eq 'mail.requested' } @ev;
            my @cs = grep { $_->{type} eq 'contact.submitted' } @ev;
            is(scalar @mr, 2, 'two mail.requested');
            is(scalar @cs, 1, 'one contact.submitted');
            json_like($cs[0] || {}, { id => $ctx{event_id}, source => 'contact', data => {
                ticket => $ctx{ticket}, email => $ctx{email}, name => 'José Pérez-Ñuñez', subject => 'cotizacion',
                phone => undef, message => $ctx{body}{message}, submittedAt => qr/Z\z/, requestId => qr/\S/ } },
                'contact.submitted');
            my %by_tpl = map { (($_->{data} || {})->{template} // '') => $_ } @mr;
            json_like($by_tpl{contact_shop} || {}, { source => 'contact', data => { to => $SHOP,
                replyTo => $ctx{email}, replyToName => 'José Pérez-Ñuñez', vars => { ticket => $ctx{ticket} } } },
                'the shop\'s mail request');
            json_like($by_tpl{contact_ack} || {}, { data => { to => $ctx{email}, replyTo => ABSENT } },
                'the acknowledgement\'s mail request');
            is(mail_header($ctx{shop} || {}, 'Message-ID'), "<$by_tpl{contact_shop}{id}\@floresvictoria.cl>",
                'the shop\'s Message-ID is its request id');
            is(mail_header($ctx{ack} || {}, 'Message-ID'), "<$by_tpl{contact_ack}{id}\@floresvictoria.cl>",
                'the acknowledgement\'s Message-ID is its request id');
            is(pg_value('SELECT count(*) FROM mail.processed_events WHERE event_id IN ($1, $2)',
                $by_tpl{contact_shop}{id}, $by_tpl{contact_ack}{id}), 2, 'both recorded as sent, once');
        },
    },
    {
        # Protects: white space around the email (a line break included) is trimmed, not sent.
        name    => 'an email with surrounding white space is trimmed',
        request => sub { $ctx{trim} = unique_email('trim'); ['POST', $C, good(email => "  $ctx{trim}\r\n")] },
        status  => 202,
        then    => sub {
            my $t = $_[0]{json}{data}{ticket};
            my ($ack) = grep { "@{ $_->{rcpt} }" eq $ctx{trim} } mails_with($t, 2);
            ok($ack, 'the acknowledgement goes to the trimmed address');
        },
    },
    {
        # Protects: the form cannot be used to mail-bomb: 10 messages per 15 minutes from one
        # client address (zone contact), then 429 with the rate-limit headers.
        name => 'the eleventh message from one address within 15 minutes is refused',
        then => sub {
            my $src = next_source_address();
            my @st = map { api('POST', $C, good(), undef, { source => $src })->{status} } 1 .. 10;
            is(join(',', @st), join(',', (202) x 10), 'ten accepted');
            my $res = api('POST', $C, good(), undef, { source => $src });
            envelope_ok($res, 429, 'RATE_LIMITED', 'the eleventh: 429');
            like(header($res, 'Retry-After') // '', qr/^\d+$/, 'Retry-After');
            like(header($res, 'RateLimit-Policy') // '', qr/"contact";q=10;w=900/, 'the contact policy');
        },
    },
    {
        # Protects: none of the refused injection attempts produced a mail anywhere.
        name => 'nothing ever went to the injected address',
        then => sub {
            my @hits = mails_where(sub { my $m = shift; grep({ $_ eq $VICTIM } @{ $m->{rcpt} })
                || index($m->{raw}, $VICTIM) >= 0 });
            is(scalar @hits, 0, "no mail to or mentioning $VICTIM");
        },
    },
]);

finish();
