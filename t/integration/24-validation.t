#!/usr/bin/perl
# 24-validation.t: what the auth service (and the gateway in front of it) does with bad
# input, on POST /api/auth/register: every bad field listed at once, wrong types, control
# characters, bodies that are not objects, malformed JSON, media types, and the 64 KiB limit.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();

my $REG = '/api/auth/register';
my $PW  = 'clave-Segura-123';

sub good { return { name => 'Ana Rosa', email => unique_email('val'), password => $PW, @_ } }

sub invalid {
    my ($name, $body, @fields) = @_;
    return {
        name    => $name,
        request => sub { ['POST', $REG, ref $body eq 'CODE' ? $body->() : $body] },
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => \@fields,
    };
}

sub bad_json {
    my ($name, $raw) = @_;
    return { name => $name, request => ['POST', $REG, $raw], status => 400, code => 'INVALID_JSON' };
}

# A register body of exactly $size bytes (a long name: valid JSON, invalid data).
sub body_of {
    my $size = shift;
    my $frame = '{"name":"","email":"a@example.com","password":"12345678"}';
    my $n = $size - length $frame;
    return '{"name":"' . ('x' x $n) . '","email":"a@example.com","password":"12345678"}';
}

run_blocks([
    # ---- every bad field, listed together
    invalid('empty object: the three required fields', {}, qw(name email password)),
    invalid('three bad values at once', { name => 'A', email => 'no-es-un-correo', password => 'corta' },
        qw(name email password)),
    invalid('name of 1 character', sub { good(name => 'A') }, 'name'),
    invalid('name of 101 characters', sub { good(name => 'N' x 101) }, 'name'),
    invalid('name of 101 multi-byte characters', sub { good(name => 'ñ' x 101) }, 'name'),
    invalid('password of 7 characters', sub { good(password => '1234567') }, 'password'),
    invalid('password of 129 characters', sub { good(password => 'p' x 129) }, 'password'),
    invalid('empty strings', { name => '', email => '', password => '' }, qw(name email password)),

    # ---- emails
    (map { my $e = $_; invalid("email '$e'", sub { good(email => $e) }, 'email') }
        'sin-arroba.example.com', 'falta-dominio@', '@example.com', 'dos@@example.com',
        'con espacio@example.com', 'a@exa mple.com'),
    invalid('email of 255 characters', sub { good(email => ('e' x 64) . '@' . ('d' x 63) . '.' . ('d' x 63) . '.' . ('d' x 59) . '.cl') }, 'email'),

    # ---- wrong types, each reported
    invalid('numbers instead of strings', { name => 123, email => 456, password => 12345678 },
        qw(name email password)),
    invalid('array, object and boolean', { name => ['Ana Rosa'], email => { v => 'a@example.com' }, password => JSON::PP::true },
        qw(name email password)),
    invalid('nulls', { name => undef, email => undef, password => undef }, qw(name email password)),
    invalid('one wrong type among good fields', sub { good(name => 12) }, 'name'),

    # ---- control characters (C strings would truncate at NUL; logs would split at \n)
    invalid('NUL inside the name', sub { good(name => "Ana\x{0}Rosa") }, 'name'),
    invalid('newline inside the name', sub { good(name => "Ana\nRosa") }, 'name'),
    invalid('escape character inside the name', sub { good(name => "Ana\x{1b}[31mRosa") }, 'name'),
    invalid('NUL inside the password', sub { good(password => "clave\x{0}segura") }, 'password'),
    invalid('tab inside the email', sub { good(email => "a\tb\@example.com") }, 'email'),

    # ---- the body must be a JSON object
    (map {
        my $raw = $_;
        +{
            name    => "non-object JSON body: $raw",
            request => ['POST', $REG, $raw],
            status  => 400,
            code    => 'VALIDATION_ERROR',
        }
    } '[]', '["Ana Rosa","a@example.com","12345678"]', '"texto"', '42', 'null', 'true'),

    # ---- malformed JSON
    bad_json('truncated object', '{"name": "Ana Rosa", "email": '),
    bad_json('unquoted keys', '{name: "Ana Rosa"}'),
    bad_json('trailing comma', '{"name": "Ana Rosa",}'),
    bad_json('single quotes', q({'name': 'Ana Rosa'})),
    bad_json('two documents', '{"name":"Ana Rosa"}{"email":"a@example.com"}'),
    bad_json('garbage after the object', '{"name":"Ana Rosa"} xyz'),
    {
        # Protects: the parser is bounded: deep nesting is refused, not a crash.
        name    => 'nesting 20000 levels deep',
        request => ['POST', $REG, ('[' x 20000) . (']' x 20000)],
        status  => 400,
        then    => sub { like(($_[0]{json} || {})->{code} // '', qr/^(?:INVALID_JSON|VALIDATION_ERROR)\z/, 'INVALID_JSON or VALIDATION_ERROR') },
    },
    {
        name    => 'invalid UTF-8 in a string',
        request => ['POST', $REG, do { my $raw = '{"name":"Ana ' . "\xff\xfe" . '","email":"x@example.com","password":"12345678"}'; utf8::downgrade($raw); $raw }],
        status  => 400,
        then    => sub { like(($_[0]{json} || {})->{code} // '', qr/^(?:INVALID_JSON|VALIDATION_ERROR)\z/, 'INVALID_JSON or VALIDATION_ERROR') },
    },
    {
        name    => 'empty body',
        request => ['POST', $REG, ''],
        status  => 400,
        then    => sub { like(($_[0]{json} || {})->{code} // '', qr/^(?:INVALID_JSON|VALIDATION_ERROR)\z/, 'INVALID_JSON or VALIDATION_ERROR') },
    },

    # ---- media types
    {
        name    => 'text/plain body is 415',
        request => sub { ['POST', $REG, JSON::PP->new->utf8->encode(good())] },
        headers => { 'Content-Type' => 'text/plain' },
        status  => 415,
        code    => 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
        name    => 'form body is 415',
        request => ['POST', $REG, 'name=Ana&email=a%40example.com&password=12345678'],
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
        status  => 415,
        code    => 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
        name    => 'body without Content-Type is 415',
        request => sub { ['POST', $REG, JSON::PP->new->utf8->encode(good())] },
        headers => { 'Content-Type' => undef },
        status  => 415,
        code    => 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
        # Protects: parameters and case of the media type are allowed (RFC 9110).
        name    => 'application/json; charset=utf-8 is accepted',
        request => sub { ['POST', $REG, good()] },
        headers => { 'Content-Type' => 'application/json; charset=utf-8' },
        status  => 201,
    },
    {
        name    => 'Application/JSON is accepted',
        request => sub { ['POST', $REG, good()] },
        headers => { 'Content-Type' => 'Application/JSON' },
        status  => 201,
    },

    # ---- the 64 KiB body limit
    {
        # Protects: exactly 64 KiB is within the limit (the request is then judged on its data).
        name    => 'a body of exactly 65536 bytes is read',
        request => ['POST', $REG, body_of(65536)],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['name'],
    },
    {
        name    => 'a body of 65537 bytes is 413',
        request => ['POST', $REG, body_of(65537)],
        status  => 413,
        code    => 'PAYLOAD_TOO_LARGE',
    },
    {
        name    => 'a body of 1 MiB is 413',
        request => ['POST', $REG, body_of(1 << 20)],
        status  => 413,
        code    => 'PAYLOAD_TOO_LARGE',
    },
    {
        # Protects: the limit holds without a Content-Length (chunked upload).
        name    => 'a chunked body over 64 KiB is 413',
        request => sub {
            my @chunks = ('{"name":"', ('x' x 16384) x 5, '","email":"a@example.com","password":"12345678"}');
            ['POST', $REG, sub { shift @chunks }];
        },
        status  => 413,
        code    => 'PAYLOAD_TOO_LARGE',
    },
    {
        # Protects: a chunked body within the limit is read normally.
        name    => 'a small chunked body is accepted',
        request => sub {
            my $json = JSON::PP->new->utf8->encode(good());
            my @chunks = (substr($json, 0, 10), substr($json, 10));
            ['POST', $REG, sub { shift @chunks }];
        },
        status  => 201,
    },
]);

finish();
