package Flores::NginxTest;

# Keys and JSON Web Tokens for the module's Test::Nginx suites, made with Perl
# core modules and the openssl command: HS* secrets, RSA and EC (P-256,
# P-384) key pairs, and tokens signed with them, or deliberately not.

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use File::Spec;
use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);

our @EXPORT = qw(key_dir write_file write_secret gen_rsa gen_ec jwt b64url
                 jwk write_jwks default_blocks);

my $Dir;

# A private folder for keys, removed at exit; also $TEST_NGINX_KEYS in
# configurations.
sub key_dir {
    $Dir //= tempdir('flores-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{TEST_NGINX_KEYS} = $Dir;
    return $Dir;
}

sub write_file {
    my ($name, $data) = @_;
    my $path = File::Spec->catfile(key_dir(), $name);
    open my $fh, '>:raw', $path or die "$path: $!";
    print {$fh} $data;
    close $fh or die "$path: $!";
    return $path;
}

sub write_secret {
    my ($name, $secret) = @_;
    return write_file($name, "$secret\n");
}

sub openssl {
    my @cmd = ('openssl', @_);
    system(@cmd) == 0 or die "@cmd: failed\n";
}

# name.pem (private) and name.pub (public, "BEGIN PUBLIC KEY").
sub gen_rsa {
    my ($name, $bits) = @_;
    my $dir = key_dir();
    openssl('genpkey', '-quiet', '-algorithm', 'RSA',
            '-pkeyopt', 'rsa_keygen_bits:' . ($bits // 2048),
            '-out', "$dir/$name.pem");
    openssl('pkey', '-in', "$dir/$name.pem", '-pubout', '-out', "$dir/$name.pub");
    return ("$dir/$name.pem", "$dir/$name.pub");
}

sub gen_ec {
    my ($name, $curve) = @_;
    my $dir = key_dir();
    openssl('genpkey', '-quiet', '-algorithm', 'EC',
            '-pkeyopt', "ec_paramgen_curve:$curve",
            '-out', "$dir/$name.pem");
    openssl('pkey', '-in', "$dir/$name.pem", '-pubout', '-out', "$dir/$name.pub");
    return ("$dir/$name.pem", "$dir/$name.pub");
}

# The public JWK of a key pair made by gen_rsa or gen_ec (from its .pub
# file): {kty, crv, x, y} or {kty, n, e}, with the members given added.
sub jwk {
    my ($pub, %extra) = @_;
    open my $fh, '-|', 'openssl', 'pkey', '-pubin', '-in', $pub, '-outform', 'DER'
        or die "openssl pkey: $!";
    binmode $fh;
    my $der = do { local $/; <$fh> };
    close $fh or die "openssl pkey -pubin -in $pub failed\n";

    my $text = `openssl pkey -pubin -in '$pub' -noout -text`;
    my %k;

    if ($text =~ /NIST CURVE: (P-\d+)|ASN1 OID: (prime256v1|secp384r1)/) {
        my $crv = $1 // ($2 eq 'prime256v1' ? 'P-256' : 'P-384');
        my $size = $crv eq 'P-256' ? 32 : 48;
        # SubjectPublicKeyInfo ends with the point 04 || x || y
        my $point = substr $der, -(1 + 2 * $size);
        %k = (kty => 'EC', crv => $crv,
              x => b64url(substr $point, 1, $size),
              y => b64url(substr $point, 1 + $size, $size));
    } else {
        my ($mod) = `openssl rsa -pubin -in '$pub' -noout -modulus 2>/dev/null` =~ /Modulus=([0-9A-F]+)/;
        die "$pub: neither EC nor RSA\n" unless $mod;
        %k = (kty => 'RSA', n => b64url(pack 'H*', $mod), e => 'AQAB');
    }

    return { %k, %extra };
}

# A JWKS file of the keys (hashes made by jwk, or raw JSON text).
sub write_jwks {
    my ($name, @keys) = @_;
    return write_file($name, JSON::PP->new->canonical->encode({ keys => \@keys }));
}

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

my $Json = JSON::PP->new->canonical;

sub part {
    my $v = shift;
    return b64url(ref $v ? $Json->encode($v) : $v);
}

# DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs) to JWS's r || s.
sub der_to_raw {
    my ($der, $size) = @_;
    my @b = unpack 'C*', $der;
    my $i = 0;
    die "not a SEQUENCE\n" unless $b[$i++] == 0x30;
    my $len = $b[$i++];
    $i += $len & 0x7f if $len & 0x80;
    my $raw = '';
    for (1 .. 2) {
        die "not an INTEGER\n" unless $b[$i++] == 0x02;
        my $n = $b[$i++];
        my $int = pack 'C*', @b[$i .. $i + $n - 1];
        $i += $n;
        $int =~ s/^\x00+//;
        $raw .= ("\x00" x ($size - length $int)) . $int;
    }
    return $raw;
}

sub sign_pem {
    my ($input, $pem, $bits) = @_;
    my $in = write_file('signing-input', $input);
    open my $fh, '-|', 'openssl', 'dgst', "-sha$bits", '-binary', '-sign', $pem, $in
        or die "openssl dgst: $!";
    binmode $fh;
    local $/;
    my $sig = <$fh>;
    close $fh or die "openssl dgst -sign $pem failed\n";
    return $sig;
}

# jwt(claims => {...} | 'raw json', header => {...} | 'raw json',
#     alg => 'HS256', kid => 'k1', key => secret | private key file,
#     sig => raw bytes)
# Signs with alg and key unless sig is given; alg 'none' leaves it empty.
sub jwt {
    my %o = @_;
    my $alg = $o{alg} // 'HS256';
    my $header = $o{header}
                 // { alg => $alg, typ => 'JWT', defined $o{kid} ? (kid => $o{kid}) : () };
    my $input = part($header) . '.' . part($o{claims} // {});
    my $sig;

    if (defined $o{sig}) {
        $sig = $o{sig};
    } elsif ($alg eq 'none') {
        $sig = '';
    } elsif ($alg =~ /^HS(\d+)$/) {
        my %f = (256 => \&hmac_sha256, 384 => \&hmac_sha384, 512 => \&hmac_sha512);
        $sig = $f{$1}->($input, $o{key});
    } elsif ($alg =~ /^RS(\d+)$/) {
        $sig = sign_pem($input, $o{key}, $1);
    } elsif ($alg =~ /^ES(\d+)$/) {
        $sig = der_to_raw(sign_pem($input, $o{key}, $1), $1 == 256 ? 32 : 48);
    } else {
        die "unknown alg $alg\n";
    }

    return $input . '.' . b64url($sig);
}

# Every block checks that nothing went badly wrong in nginx: no [alert] or
# [emerg] line, no sanitizer report (nginx sends stderr to its error log).
sub default_blocks {
    my (%o) = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;

        if (!defined $block->config && defined $o{config}) {
            $block->set_value('config', $o{config});
        }

        if (!defined $block->http_config && defined $o{http_config}) {
            $block->set_value('http_config', $o{http_config});
        }

        if (!defined $block->request && defined $o{request}) {
            $block->set_value('request', $o{request});
        }

        my @bad = (qw([alert] AddressSanitizer LeakSanitizer), 'runtime error:');

        if (defined $block->must_die) {
            # The [emerg] is the point here: it is expected, not reported.
            my $want = $block->error_log;
            $want = [split /\n+/, $want] if defined $want && !ref $want;
            $want = [$want] if ref $want eq 'Regexp';
            $block->set_value('error_log', ['[emerg]', @{ $want || [] }]);
            $block->set_value('suppress_stderr', 1);
            $block->set_value('no_error_log', \@bad)
                unless defined $block->no_error_log;

        } elsif (!defined $block->no_error_log) {
            $block->set_value('no_error_log', ['[emerg]', @bad]);
        }
    });
}

1;
