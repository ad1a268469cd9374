package Flores::Run;

# Running commands from the deployment tests: without a shell, bounded by timeout(1), output
# captured.
#
#   my $r = run(['./flores', 'package'], timeout => 600);
#   $r->{rc}, $r->{out} (stdout), $r->{err} (stderr), $r->{text} (both)
#
# Options: timeout (seconds, 120), cwd, env (hash added to the environment), input (written to
# stdin), merge (stderr into out, in order: for commands whose messages interleave).

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use IPC::Open3 qw(open3);

our @EXPORT_OK = qw(run slurp);

sub run {
    my ($argv, %o) = @_;
    local %ENV = (%ENV, %{ $o{env} // {} });
    my @pre = $o{cwd} ? ('env', '-C', $o{cwd}) : ();
    my $err = $o{merge} ? undef : File::Temp->new;
    my ($in, $out);
    my $pid = open3($in, $out, $err ? '>&' . fileno($err) : undef,
                    'timeout', '-k', '10', $o{timeout} // 120, @pre, @$argv);
    print {$in} $o{input} if defined $o{input};
    close $in;
    my $text = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    my $rc = $? >> 8;
    my $etext = $err ? slurp($err->filename) // '' : '';
    return { rc => $rc, out => $text, err => $etext, text => $text . $etext };
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

1;
