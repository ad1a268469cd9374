package Flores::AMQP;
# Flores::AMQP: just enough AMQP 0-9-1 to ask the broker two questions, in core Perl (no AMQP
# library is packaged): does it let these credentials log in, and does it take this message
# from them?  For the security tests, where the answer expected is often "no".
#
#   amqp_try(host => ..., port => ..., user => ..., password => ...,
#            publish => { exchange => ..., routing_key => ..., body => ... })
#
# returns {login => 'ok' | 'refused: <why>', publish => 'confirmed' | 'refused: <code> <text>'
# | 'nacked' | 'no answer'} (publish only when asked; in confirm mode, so the broker answers).

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET ();
use IO::Select ();

our @EXPORT_OK = qw(amqp_try amqp_url);

my $FRAME_END = "\xCE";

sub _shortstr { my $s = shift; return pack('C', length $s) . $s }
sub _longstr  { my $s = shift; return pack('N', length $s) . $s }

sub _frame {
    my ($type, $channel, $payload) = @_;
    return pack('CnN', $type, $channel, length $payload) . $payload . $FRAME_END;
}

sub _method {
    my ($channel, $class, $method, $args) = @_;
    return _frame(1, $channel, pack('nn', $class, $method) . ($args // ''));
}

# The next frame: [type, channel, payload], or undef (closed, timed out, not AMQP).
sub _read_frame {
    my ($sock, $buf) = @_;
    my $sel = IO::Select->new($sock);
    for (;;) {
        if (length $$buf >= 7) {
            my ($type, $channel, $size) = unpack 'CnN', $$buf;
            if (length $$buf >= 8 + $size) {
                my $payload = substr $$buf, 7, $size;
                substr($$buf, 0, 8 + $size) = '';
                return [$type, $channel, $payload];
            }
        }
        return undef unless $sel->can_read(5);
        my $n = sysread $sock, my $chunk, 65536;
        return undef unless $n;
        $$buf .= $chunk;
    }
}

# The next method frame as [channel, class, method, args], skipping anything else.
sub _read_method {
    my ($sock, $buf) = @_;
    while (my $f = _read_frame($sock, $buf)) {
        next unless $f->[0] == 1;
        my ($class, $method) = unpack 'nn', $f->[2];
        return [$f->[1], $class, $method, substr($f->[2], 4)];
    }
    return undef;
}

# "<code> <text>" of a connection.close or channel.close.
sub _close_reason {
    my $args = shift;
    my ($code, $len) = unpack 'nC', $args;
    return "$code " . substr($args, 3, $len);
}

sub amqp_try {
    my %o = @_;
    my %r = (login => 'refused: no connection');
    my $sock = IO::Socket::INET->new(PeerAddr => $o{host} // '127.0.0.1', PeerPort => $o{port},
        Proto => 'tcp', Timeout => 5) or return \%r;
    my $buf = '';
    print {$sock} "AMQP\x00\x00\x09\x01";

    my $m = _read_method($sock, \$buf);
    return { login => 'refused: no connection.start' } unless $m && $m->[1] == 10 && $m->[2] == 10;
    print {$sock} _method(0, 10, 11, pack('N', 0) . _shortstr('PLAIN')
        . _longstr("\0$o{user}\0$o{password}") . _shortstr('en_US'));

    $m = _read_method($sock, \$buf);
    if (!$m) {
        return { login => 'refused: connection closed' };
    }
    if ($m->[1] == 10 && $m->[2] == 50) {
        return { login => 'refused: ' . _close_reason($m->[3]) };
    }
    return { login => "refused: unexpected method $m->[1].$m->[2]" } unless $m->[1] == 10 && $m->[2] == 30;
    print {$sock} _method(0, 10, 31, pack('nNn', 16, 131072, 0));
    print {$sock} _method(0, 10, 40, _shortstr('/') . _shortstr('') . "\0");
    $m = _read_method($sock, \$buf);
    if (!$m || $m->[1] != 10 || $m->[2] != 41) {
        return { login => 'refused: ' . ($m && $m->[2] == 50 ? _close_reason($m->[3]) : 'no connection.open-ok') };
    }
    $r{login} = 'ok';

    if (my $p = $o{publish}) {
        print {$sock} _method(1, 20, 10, _shortstr(''));
        $m = _read_method($sock, \$buf);
        if (!$m || $m->[1] != 20 || $m->[2] != 11) {
            $r{publish} = 'refused: channel not opened';
            return \%r;
        }
        print {$sock} _method(1, 85, 10, "\0");
        $m = _read_method($sock, \$buf);
        if (!$m || $m->[1] != 85 || $m->[2] != 11) {
            $r{publish} = 'refused: no confirm mode';
            return \%r;
        }
        my $body = $p->{body} // '{}';
        print {$sock} _method(1, 60, 40, pack('n', 0) . _shortstr($p->{exchange} // '')
            . _shortstr($p->{routing_key}) . "\0")
            . _frame(2, 1, pack('nnQ>n', 60, 0, length $body, 0))
            . _frame(3, 1, $body);
        $m = _read_method($sock, \$buf);
        $r{publish} = !$m                                ? 'no answer'
                    : $m->[1] == 60 && $m->[2] == 80     ? 'confirmed'
                    : $m->[1] == 60 && $m->[2] == 120    ? 'nacked'
                    : $m->[1] == 20 && $m->[2] == 40     ? 'refused: ' . _close_reason($m->[3])
                    : $m->[1] == 10 && $m->[2] == 50     ? 'refused: ' . _close_reason($m->[3])
                    :                                      "unexpected method $m->[1].$m->[2]";
    }
    close $sock;
    return \%r;
}

# (user, password, host, port) of an amqp:// URL.
sub amqp_url {
    my $url = shift // '';
    my ($user, $pass, $host, $port) = $url =~ m{^amqp://(?:([^:@/]*)(?::([^@/]*))?@)?([^:/]+)(?::(\d+))?}
        or return;
    return ($user // 'guest', $pass // 'guest', $host, $port // 5672);
}

1;
