#!/usr/bin/perl
# 20-register.t: POST /api/auth/register creates customers: the answer's shape, normalised
# emails, no self-made admins, duplicates refused whatever their case, limits counted in
# characters, and SQL metacharacters stored and used literally.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $REG = '/api/auth/register';
my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
my $PW  = 'clave-Segura-' . random_hex(4);

# What every created user looks like; never a password or its hash.
sub user_shape {
    my %o = @_;
    return { data => { user => {
        id => qr/^[1-9][0-9]*\z/, name => $o{name}, email => $o{email}, role => 'customer',
        createdAt => $ISO,
        password => ABSENT, passwordHash => ABSENT, password_hash => ABSENT, hash => ABSENT,
    } } };
}

my %ctx;
my $base = unique_email('reg');
(my $mixed = ucfirst $base) =~ s/\@example\.com\z/\@Example.COM/;   # Reg-...@Example.COM

my $sqlname  = q{O'Hara"; DROP TABLE users; -- \\ % _ ñandú 🌸};
my $sqlemail = "o'hara.%_+x-" . random_hex(4) . '@example.com';
my $sqlpass  = q{'; DROP TABLE users; -- \\ % _ ñ 🌸 "x};

my $wild = unique_email('wild');
(my $wild_under = $wild) =~ s/^(\w\w)\w/$1_/;                 # LIKE would match $wild
(my $wild_pct = $wild) =~ s/^([a-z]+-\d+-\d+-)[^@]+/$1%/;    # unique per run too

run_blocks([
    {
        # Protects: the documented answer, with the email trimmed and lower-cased.
        name    => 'a new customer is created, email lower-cased',
        request => ['POST', $REG, { name => 'Ana Rosa', email => $mixed, password => $PW }],
        status  => 201,
        json    => user_shape(name => 'Ana Rosa', email => $base),
        then    => sub { $ctx{id} = $_[0]{json}{data}{user}{id} },
    },
    {
        # Protects: the stored row is the answered one.
        name    => 'stored as answered',
        request => ['POST', '/api/auth/login', { email => $base, password => $PW }],
        status  => 200,
        json    => { data => { user => { id => sub { $_[0] && $_[0] eq ($ctx{id} // '') }, email => $base } } },
    },
    {
        # Protects: an account is unique per address (case-sensitively equal).
        name    => 'same email again is 409',
        request => ['POST', $REG, { name => 'Ana Otra', email => $base, password => $PW }],
        status  => 409,
        code    => 'EMAIL_TAKEN',
    },
    {
        # Protects: ... and whatever its case.
        name    => 'same email in upper case is 409',
        request => ['POST', $REG, { name => 'Ana Otra', email => uc $base, password => $PW }],
        status  => 409,
        code    => 'EMAIL_TAKEN',
    },
    {
        # Protects: emails are trimmed before they are compared.
        name    => 'same email with surrounding spaces is 409',
        request => ['POST', $REG, { name => 'Ana Otra', email => "  $base  ", password => $PW }],
        status  => 409,
        code    => 'EMAIL_TAKEN',
    },
    {
        # Protects: nobody registers as admin; unknown fields are ignored, not stored.
        name    => 'role and unknown fields in the body are ignored',
        request => ['POST', $REG, { name => 'Mallory', email => unique_email('role'), password => $PW,
                                    role => 'admin', isAdmin => JSON::PP::true, id => 999999999, foo => [1] }],
        status  => 201,
        json    => { data => { user => { role => 'customer', foo => ABSENT, isAdmin => ABSENT,
                                         id => sub { defined $_[0] && $_[0] ne '999999999' } } } },
    },
    {
        # Protects: the lower bounds are inclusive.
        name    => 'name of 2 and password of 8 characters',
        request => ['POST', $REG, { name => 'Al', email => unique_email('min'), password => '12345678' }],
        status  => 201,
        json    => { data => { user => { name => 'Al' } } },
    },
    {
        # Protects: the upper bounds are inclusive.
        name    => 'name of 100 and password of 128 characters',
        request => ['POST', $REG, { name => 'N' x 100, email => unique_email('max'), password => 'p' x 128 }],
        status  => 201,
        json    => { data => { user => { name => 'N' x 100 } } },
    },
    {
        # Protects: lengths are counted in characters, not bytes (100 × 2-byte "ñ").
        name    => 'name of 100 multi-byte characters',
        request => ['POST', $REG, { name => 'ñ' x 100, email => unique_email('utf8'), password => 'ñ' x 128 }],
        status  => 201,
        json    => { data => { user => { name => 'ñ' x 100 } } },
    },
    {
        # Protects: SQL metacharacters and unicode are data, in every field.
        name    => 'SQL metacharacters in name, email and password',
        request => ['POST', $REG, { name => $sqlname, email => $sqlemail, password => $sqlpass }],
        status  => 201,
        json    => user_shape(name => $sqlname, email => $sqlemail),
        then    => sub { $ctx{sqlid} = $_[0]{json}{data}{user}{id} },
    },
    {
        name    => '... stored literally in the database',
        then    => sub {
            my $rows = pg('SELECT name, email FROM auth.users WHERE id = $1', $ctx{sqlid} // -1);
            is_deeply($rows, [[$sqlname, $sqlemail]], 'the row holds the exact text');
            ok(pg_value('SELECT count(*) FROM auth.users') > 0, 'the users table is still there');
        },
    },
    {
        name    => '... and login with them works',
        request => ['POST', '/api/auth/login', { email => $sqlemail, password => $sqlpass }],
        status  => 200,
        json    => { data => { user => { name => $sqlname, email => $sqlemail } } },
        then    => sub { $ctx{sqltoken} = $_[0]{json}{data}{token} },
    },
    {
        name    => '... and me answers them',
        request => ['GET', '/api/auth/me'],
        token   => sub { $ctx{sqltoken} // '' },
        status  => 200,
        json    => { data => { user => { name => $sqlname, email => $sqlemail } } },
    },
    {
        setup   => sub { register_user(email => $wild, password => $PW) },
        # Protects: emails are compared for equality, never as LIKE patterns.
        name    => 'login with "_" where the email has a letter fails',
        request => ['POST', '/api/auth/login', { email => $wild_under, password => $PW }],
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
    },
    {
        name    => 'login with "%" standing for part of the email fails',
        request => ['POST', '/api/auth/login', { email => $wild_pct, password => $PW }],
        status  => 401,
        code    => 'INVALID_CREDENTIALS',
    },
    {
        name    => 'registering the "%" pattern of a taken email is a new account',
        request => ['POST', $REG, { name => 'Patrón', email => $wild_pct, password => $PW }],
        status  => 201,
        json    => { data => { user => { email => $wild_pct } } },
    },
]);

finish();
