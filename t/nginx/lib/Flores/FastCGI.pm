package Flores::FastCGI;

# A small FastCGI responder for the module's Test::Nginx suites: a stand-in
# for a service, started by the test file, one process per connection, on
# 127.0.0.1 and a free port. What it answers is up to a Perl callback, which
# gets the request's parameters and body:
#
#   my $fcgi = Flores::FastCGI->start(sub {
#       my ($params, $body) = @_;
#       return (200, {'Content-Type' => 'application/json'}, '{"ok":1}');
#   });
#   $ENV{TEST_NGINX_FCGI_PORT} = $fcgi->port;
#
# The callback may sleep (a slow service) or return undef to close the
# connection without an answer (a broken one). stop() ends it; so does the
# test file's exit.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();

use constant {
    FCGI_BEGIN_REQUEST => 1,
    FCGI_END_REQUEST   => 3,
    FCGI_PARAMS        => 4,
    FCGI_STDIN         => 5,
    FCGI_STDOUT        => 6,
};

my @Running;

sub start {
    my ($class, $handler) = @_;

    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto     => 'tcp',
        Listen    => 128,
        ReuseAddr => 1,
    ) or die "fastcgi backend: listen: $!\n";

    my $port = $listen->sockport;

    my $pid = fork;
    die "fastcgi backend: fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };

        while (1) {
            my $c = $listen->accept or next;

            my $child = fork;

            if (defined $child && $child == 0) {
                close $listen;
                eval { serve($c, $handler) };
                POSIX::_exit(0);
            }

            close $c;
        }
    }

    close $listen;

    my $self = bless { pid => $pid, port => $port }, $class;
    push @Running, $self;

    return $self;
}

sub port { $_[0]{port} }

sub stop {
    my $self = shift;

    return unless $self->{pid};

    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

END {
    $_->stop for @Running;
}

sub read_exact {
    my ($c, $len) = @_;
    my $buf = '';

    while (length $buf < $len) {
        my $n = sysread $c, $buf, $len - length $buf, length $buf;
        return undef unless $n;
    }

    return $buf;
}

sub read_record {
    my $c = shift;

    my $head = read_exact($c, 8) // return;
    my ($version, $type, $id, $len, $pad) = unpack 'CCnnC', $head;
    my $content = $len ? read_exact($c, $len) // return : '';
    read_exact($c, $pad) // return if $pad;

    return ($type, $id, $content);
}

sub write_record {
    my ($c, $type, $id, $content) = @_;
    my $len = length $content;
    my $pad = (8 - $len % 8) % 8;

    syswrite $c, pack('CCnnCx', 1, $type, $id, $len, $pad)
                 . $content . ("\0" x $pad);
}

sub parse_params {
    my $data = shift;
    my %p;

    while (length $data) {
        my @len;

        for (1 .. 2) {
            my $l = unpack 'C', $data;

            if ($l & 0x80) {
                $l = unpack('N', $data) & 0x7fffffff;
                substr($data, 0, 4) = '';
            } else {
                substr($data, 0, 1) = '';
            }

            push @len, $l;
        }

        my $name = substr $data, 0, $len[0], '';
        $p{$name} = substr $data, 0, $len[1], '';
    }

    return \%p;
}

sub serve {
    my ($c, $handler) = @_;
    my ($id, $params, $body) = (1, '', '');

    while (1) {
        my ($type, $rid, $content) = read_record($c);
        return unless defined $type;

        if ($type == FCGI_BEGIN_REQUEST) {
            $id = $rid;
        } elsif ($type == FCGI_PARAMS) {
            $params .= $content;
        } elsif ($type == FCGI_STDIN) {
            last if $content eq '';
            $body .= $content;
        }
    }

    my ($status, $headers, $out) = $handler->(parse_params($params), $body);

    # a broken service: the connection closes without an answer
    return unless defined $status;

    my $text = "Status: $status\r\n";
    $headers ||= {};
    $headers->{'Content-Type'} //= 'application/json';
    $text .= "$_: $headers->{$_}\r\n" for sort keys %$headers;
    $text .= "\r\n" . ($out // '');

    while (length $text) {
        write_record($c, FCGI_STDOUT, $id, substr($text, 0, 32768, ''));
    }

    write_record($c, FCGI_STDOUT, $id, '');
    write_record($c, FCGI_END_REQUEST, $id, pack('NCx3', 0, 0));

    close $c;
}

1;
