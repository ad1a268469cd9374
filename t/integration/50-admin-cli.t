#!/usr/bin/perl
# 50-admin-cli.t: the first admin comes from the command line (flores-admin create-admin,
# password on stdin), never from the API; the admin logs in with role admin in the token.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $ADMIN = "$ENV{FLORES_BIN_DIR}/fcgi-services/auth/flores-admin";
my $email = unique_email('admin');
my $password = 'clave-Admin-' . random_hex(6);
my %ctx;

sub admin_cli {
    my ($input, @args) = @_;
    return run_cmd([$ADMIN, 'create-admin', @args], input => $input, timeout => 60,
        env => { FLORES_PG_SCHEMA => 'auth' });
}

sub users_with { return pg_value('SELECT count(*) FROM auth.users WHERE lower(email) = lower($1)', $_[0]) // -1 }

run_blocks([
    {
        name => 'flores-admin is built',
        then => sub { ok(-x $ADMIN, "$ADMIN is executable") },
    },
    {
        # Protects: the documented way to make the first admin; the password never shows.
        name => 'create-admin creates an admin',
        then => sub {
            my $r = admin_cli("$password\n", '--email', $email, '--name', 'Administradora Flores');
            is($r->{rc}, 0, 'exit status 0') or diag($r->{text});
            ok(index($r->{text}, $password) < 0, 'the password is not printed');
            is(users_with($email), 1, 'one account with that email');
            is(pg_value('SELECT role FROM auth.users WHERE email = $1', $email), 'admin', 'stored with role admin');
        },
    },
    {
        # Protects: the admin logs in like anyone (stdin's newline is not part of the password).
        name    => 'the admin logs in with role admin',
        request => ['POST', '/api/auth/login', { email => $email, password => $password }],
        status  => 200,
        json    => { data => { user => { email => $email, role => 'admin', name => 'Administradora Flores' } } },
        then    => sub {
            $ctx{token} = $_[0]{json}{data}{token};
            my (undef, $c) = decode_jwt($ctx{token});
            is(($c || {})->{role}, 'admin', 'role admin in the access token');
        },
    },
    {
        name    => 'me says admin',
        request => ['GET', '/api/auth/me'],
        token   => sub { $ctx{token} // '' },
        status  => 200,
        json    => { data => { user => { email => $email, role => 'admin' } } },
    },
    {
        # Protects: an existing account is neither duplicated nor silently changed.
        name => 'create-admin with a taken email fails',
        then => sub {
            my $r = admin_cli("otra-clave-segura\n", '--email', uc $email, '--name', 'Otra Persona');
            isnt($r->{rc}, 0, 'non-zero exit status');
            is(users_with($email), 1, 'still one account');
            is(login($email, $password)->{status}, 200, 'the first password still works');
        },
    },
    {
        # Protects: the same input rules as the API.
        name => 'create-admin with a short password fails',
        then => sub {
            my $e = unique_email('admin-short');
            my $r = admin_cli("corta\n", '--email', $e, '--name', 'Corta Clave');
            isnt($r->{rc}, 0, 'non-zero exit status');
            is(users_with($e), 0, 'no account created');
        },
    },
    {
        name => 'create-admin with an invalid email fails',
        then => sub {
            my $r = admin_cli("clave-Segura-123\n", '--email', 'no-es-correo', '--name', 'Sin Correo');
            isnt($r->{rc}, 0, 'non-zero exit status');
            is(users_with('no-es-correo'), 0, 'no account created');
        },
    },
    {
        name => 'create-admin with an empty password fails',
        then => sub {
            my $e = unique_email('admin-empty');
            my $r = admin_cli('', '--email', $e, '--name', 'Sin Clave');
            isnt($r->{rc}, 0, 'non-zero exit status');
            is(users_with($e), 0, 'no account created');
        },
    },
]);

finish();
