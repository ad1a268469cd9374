package Flores::Mail;
# Flores::Mail: the mail the stack sent, as the SMTP sink stored it ($FLORES_MAIL_DIR, one file
# per message: smtp-sink's X-Mail-Args / X-Rcpt-Args envelope lines, its Received line, then
# the message).  Parsed with Perl core modules only, independently of the mailer's encoders.

use strict;
use warnings;
use utf8;

use Exporter 'import';
use Encode ();
use MIME::Base64 ();
use MIME::QuotedPrint ();
use Time::HiRes ();

our @EXPORT = qw(mail_dir read_mails mails_where wait_mails mail_header mail_part smtp_port);


sub mail_dir {
    my $d = $ENV{FLORES_MAIL_DIR} // ($ENV{FLORES_STACK_DIR} ? "$ENV{FLORES_STACK_DIR}/mail" : undef);
    die 'FLORES_MAIL_DIR is not set' unless defined $d;
    return $d;
}

# The SMTP sink's port, from FLORES_SMTP_URL (smtp://127.0.0.1:PORT) or the port base.
sub smtp_port {
    return $1 if ($ENV{FLORES_SMTP_URL} // '') =~ m{:(\d+)/?\z};
    return $ENV{FLORES_PORT_BASE} + 25 if $ENV{FLORES_PORT_BASE};
    die 'cannot tell the SMTP port: FLORES_SMTP_URL and FLORES_PORT_BASE are unset';
}

# Decodes RFC 2047 encoded-words the way a mail client does (Encode's MIME-Header).
sub _decode_header {
    my $v = shift;
    return Encode::decode('MIME-Header', $v);
}

# Parses one stored message into
#   {file, raw, from (envelope), rcpt => [envelope recipients], headers => {lc name => [raw
#    values, folded as sent]}, parts => [{type, charset, encoding, body (decoded
#    text), raw}], problems => [...]}
sub parse_mail {
    my ($file, $raw) = @_;
    my %m = (file => $file, raw => $raw, rcpt => [], headers => {}, parts => [], problems => []);
    my ($head, $body) = split /\n\n/, $raw, 2;
    $body //= '';
    my @lines;
    for my $l (split /\n/, $head) {
        if ($l =~ /^[ \t]/ && @lines) { $lines[-1] .= "\n$l" } else { push @lines, $l }
    }
    my $in_message = 0;
    for my $l (@lines) {
        my ($name, $value) = $l =~ /^([!-9;-~]+):[ \t]*(.*)\z/s or do {
            push @{ $m{problems} }, "not a header line: $l";
            next;
        };
        # smtp-sink's own lines come first; the message starts after its Received line.
        if (!$in_message) {
            if ($name eq 'X-Mail-Args') { ($m{from}) = $value =~ /<([^>]*)>/; next }
            if ($name eq 'X-Rcpt-Args') { push @{ $m{rcpt} }, $value =~ /<([^>]*)>/; next }
            if ($name =~ /^X-(?:Client-Addr|Client-Proto|Helo-Args)$/) { next }
            if ($name eq 'Received') { $in_message = 1; next }
        }
        push @{ $m{headers}{lc $name} }, $value;
    }
    $m{body_raw} = $body;

    my $ct = ($m{headers}{'content-type'} || [''])->[0];
    if ($ct =~ m{^multipart/alternative;\s*boundary="([^"]+)"}s) {
        my $b = $1;
        my @chunks = split /^--\Q$b\E(?:--)?[ \t]*$/m, $body;
        shift @chunks;    # the preamble
        pop @chunks if @chunks && $chunks[-1] =~ /\A\s*\z/;
        for my $c (@chunks) {
            $c =~ s/\A\n//;
            my ($ph, $pb) = split /\n\n/, $c, 2;
            $pb //= '';
            $pb =~ s/\n\z//;
            my %h;
            for my $l (split /\n(?![ \t])/, $ph) {
                $h{lc $1} = $2 if $l =~ /^([^:]+):\s*(.*)\z/s;
            }
            my $type = ($h{'content-type'} // '') =~ m{^([a-z]+/[a-z]+)}i ? lc $1 : '';
            my ($charset) = ($h{'content-type'} // '') =~ /charset="?([A-Za-z0-9_-]+)/i;
            my $enc = lc($h{'content-transfer-encoding'} // '7bit');
            my $bytes = $enc eq 'quoted-printable' ? MIME::QuotedPrint::decode_qp("$pb\n")
                      : $enc eq 'base64' ? MIME::Base64::decode_base64($pb) : $pb;
            my $text = eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK) };
            push @{ $m{problems} }, "part $type is not valid UTF-8" unless defined $text;
            push @{ $m{parts} }, { type => $type, charset => $charset // '', encoding => $enc,
                                   body => $text // '', raw => $pb };
        }
    } else {
        push @{ $m{problems} }, "not multipart/alternative: $ct";
    }
    return \%m;
}

# The decoded value of a header (first occurrence, unfolded), undef when absent.
sub mail_header {
    my ($m, $name) = @_;
    my $v = $m->{headers}{lc $name};
    return undef unless $v;
    (my $u = $v->[0]) =~ s/\n(?=[ \t])//g;
    return _decode_header($u);
}

# The decoded text of the part of a MIME type ('text/plain', 'text/html').
sub mail_part {
    my ($m, $type) = @_;
    for my $p (@{ $m->{parts} }) {
        return $p->{body} if $p->{type} eq $type;
    }
    return undef;
}

# Every stored message, parsed, oldest first: by the time the file was written (the names
# only have seconds, then a random queue id).
sub read_mails {
    my $dir = mail_dir();
    opendir my $dh, $dir or return ();
    my %mtime;
    for my $f (grep { !/^\./ } readdir $dh) {
        my @st = Time::HiRes::stat("$dir/$f");
        $mtime{$f} = $st[9] if @st && -f _;
    }
    closedir $dh;
    my @files = sort { $mtime{$a} <=> $mtime{$b} || $a cmp $b } keys %mtime;
    my @mails;
    for my $f (@files) {
        open my $fh, '<:raw', "$dir/$f" or next;
        local $/;
        my $raw = <$fh>;
        close $fh;
        push @mails, parse_mail($f, $raw);
    }
    return @mails;
}

# The messages for which $match->($mail) is true.
sub mails_where {
    my ($match) = @_;
    return grep { $match->($_) } read_mails();
}

# Waits up to $timeout seconds for at least $count messages matching; returns them all (the
# caller checks how many; waiting a little past the count shows that no more arrive when
# $settle seconds are given).
sub wait_mails {
    my ($timeout, $match, $count, $settle) = @_;
    $count //= 1;
    my $deadline = Time::HiRes::time() + $timeout;
    my @got;
    while (1) {
        @got = mails_where($match);
        last if @got >= $count || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.25);
    }
    if ($settle) {
        Time::HiRes::sleep($settle);
        @got = mails_where($match);
    }
    return @got;
}

1;
