#!/usr/bin/perl
# 61-products-admin.t: administrators' writes to the catalogue through the gateway: create
# (201, 409 ID_TAKEN, also for creations racing for one id), replace, partial update, stock
# changes ({stock} or {delta}, never below zero, atomic under concurrency) and soft delete;
# every bad field of a product reported at once; keys MongoDB would read as operators refused;
# text with operators in it stored literally; customers (403) and anonymous callers (401)
# refused for every write.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();
use POSIX ();

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };

my $ADMIN = mint_jwt({ sub => '900000101', email => 'admin61@example.com', role => 'admin',
                       exp => time + 3600 });
my $CUSTOMER = mint_jwt({ sub => '900000102', email => 'cliente61@example.com', exp => time + 3600 });

my $TAG = uc random_hex(4);
my $CAT = 't61_' . lc $TAG;
my $SEQ = 0;

sub new_id { return sprintf 'T61%s-%02d', $TAG, ++$SEQ }

sub body {
    my (%over) = @_;
    my $b = {
        name => 'Ramo de prueba', description => 'Un ramo de prueba para la suite de integración',
        price => 25000, original_price => 30000, category => $CAT, stock => 10,
        featured => JSON::PP::false, active => JSON::PP::true, size => 'Altura: 40cm',
        delivery_time => '2-4 horas', flowers => ['Rosas', 'Eucalipto'], colors => ['rojo'],
        occasions => ['aniversario'], images => ['/images/productos/prueba-1.webp', 'https://cdn.example.cl/p.webp'],
        extras => ['Tarjeta'], care_instructions => "Cambiar el agua\ncada dos días",
    };
    for my $k (keys %over) {
        if (defined $over{$k}) { $b->{$k} = $over{$k} } else { delete $b->{$k} }
    }
    return $b;
}

sub create {
    my ($id, %over) = @_;
    return api('POST', '/api/products', body(id => $id, %over), bearer($ADMIN));
}

sub get_admin {
    my $id = shift;
    return api('GET', "/api/products/$id", undef, bearer($ADMIN));
}

sub product_of { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{data}{product} : undef }

# Runs $n copies of $code at once (forked), each returning an HTTP status; the statuses sorted.
sub concurrently {
    my ($n, $code) = @_;
    my @pipes;
    for (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $st = eval { $code->() } // 0;
            print {$w} "$st\n";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [$pid, $r];
    }
    my @st;
    for my $p (@pipes) {
        my $fh = $p->[1];
        my $line = <$fh> // "0\n";
        chomp $line;
        push @st, $line;
        waitpid $p->[0], 0;
    }
    return sort @st;
}

my %ctx;
my $P = new_id();

run_blocks([
    # ---- create ------------------------------------------------------------------------------
    {
        name    => 'an administrator creates a product: 201, Location, every field as stored',
        request => sub { ['POST', '/api/products', body(id => $P)] },
        token   => $ADMIN,
        status  => 201,
        headers_like => { Location => "/api/products/$P", 'Cache-Control' => 'no-store',
                          'X-Flores-Cache-Invalidate' => undef },
        json    => { message => qr/\S/, data => { product => {
            id => $P, name => 'Ramo de prueba', price => 25000, original_price => 30000, category => $CAT,
            stock => 10, featured => $FALSE, active => $TRUE, rating => 0, reviews_count => 0,
            size => 'Altura: 40cm', delivery_time => '2-4 horas', flowers => ['Rosas', 'Eucalipto'],
            colors => ['rojo'], occasions => ['aniversario'],
            images => ['/images/productos/prueba-1.webp', 'https://cdn.example.cl/p.webp'],
            extras => ['Tarjeta'], care_instructions => "Cambiar el agua\ncada dos días",
            createdAt => $ISO, updatedAt => $ISO } } },
    },
    {
        name    => 'anyone reads it',
        request => ['GET', "/api/products/$P"],
        status  => 200,
        json    => { data => { product => { id => $P, price => 25000 } } },
    },
    {
        name    => 'the least a product needs: id, name, description, price, category; the rest defaults',
        request => sub { my $id = new_id(); $ctx{min} = $id;
                         ['POST', '/api/products', { id => $id, name => 'Mínimo', description => 'Solo lo obligatorio aquí',
                                                     price => 1, category => $CAT }] },
        token   => $ADMIN,
        status  => 201,
        json    => { data => { product => { original_price => undef, stock => 0, featured => $FALSE, active => $TRUE,
            size => '', delivery_time => '', flowers => [], colors => [], occasions => [], images => [],
            extras => [], care_instructions => '', rating => 0, reviews_count => 0 } } },
    },
    {
        # Protects: an id is taken once, whatever the store enforces.
        name    => 'the same id again: 409 ID_TAKEN',
        request => sub { ['POST', '/api/products', body(id => $P, name => 'Otro')] },
        token   => $ADMIN,
        status  => 409,
        code    => 'ID_TAKEN',
        then    => sub { is(product_of(get_admin($P))->{name}, 'Ramo de prueba', 'the first product is unchanged') },
    },
    {
        # Protects: the stand-in enforces no unique index; the _id derived from the id makes
        # exactly one of racing creations win.
        name => 'twelve creations racing for one new id: one 201, eleven 409',
        then => sub {
            my $id = new_id();
            my @st = concurrently(12, sub {
                api('POST', '/api/products', body(id => $id, name => "Carrera $$"), bearer($ADMIN))->{status} });
            is_deeply(\@st, [201, (409) x 11], 'one creation, eleven ID_TAKEN') or diag("@st");
            my $all = api('GET', "/api/products?category=$CAT&limit=100&includeInactive=true", undef, bearer($ADMIN));
            is(scalar(grep { $_->{id} eq $id } @{ $all->{json}{data}{products} }), 1, 'one product with that id');
        },
    },
    {
        name    => 'an id in lower case is refused',
        request => ['POST', '/api/products', body(id => 'abc001')],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['id'],
    },

    # ---- every bad field at once ---------------------------------------------------------
    {
        name    => 'every field wrong at once: each one named',
        request => ['POST', '/api/products', {
            id => 'mal id', name => 'x', description => 'corta', price => 0, original_price => 'caro',
            category => 'Mal Categoría', stock => -1, featured => 'sí', active => 1, size => 'x' x 201,
            delivery_time => 5, flowers => 'rosas', colors => [1], occasions => ['Mal Ocasión'],
            images => ['ftp://imagen', '//otro.host/x.webp'], extras => [('e') x 31],
            care_instructions => "con\x01control" }],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(id name description price original_price category stock featured active size
                       delivery_time flowers colors[0] occasions[0] images[0] images[1] extras
                       care_instructions)],
    },
    {
        name    => 'nothing at all: every required field named',
        request => ['POST', '/api/products', {}],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(id name description price category)],
    },
    {
        name    => 'limits: price above 100 000 000, stock above 1 000 000, 31 colors, a name of 121 characters',
        request => ['POST', '/api/products', body(id => 'T61LIMITS', price => 100_000_001, stock => 1_000_001,
            colors => [('rojo') x 31], name => 'n' x 121)],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(price stock colors name)],
    },
    {
        name    => 'original_price below price is refused',
        request => ['POST', '/api/products', body(id => 'T61BELOW', price => 30000, original_price => 20000)],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['original_price'],
    },
    {
        name    => 'a price with decimals is refused (CLP are whole)',
        request => ['POST', '/api/products', body(id => 'T61DEC', price => 1000.5)],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['price'],
    },
    {
        name    => 'not JSON',
        request => ['POST', '/api/products', '{"id":'],
        token   => $ADMIN,
        status  => 400,
        code    => 'INVALID_JSON',
    },
    {
        name    => 'a JSON array is not a product',
        request => ['POST', '/api/products', '[]'],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
    },

    # ---- operator injection in bodies ----------------------------------------------------------
    # Protects: keys MongoDB reads as operators or paths never reach it, wherever they are.
    {
        name    => 'a $where key is refused',
        request => ['POST', '/api/products', body(id => new_id(), '$where' => 'sleep(5000)')],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['$where'],
    },
    {
        name    => 'an operator object as a value is refused',
        request => ['POST', '/api/products', body(id => new_id(), name => { '$ne' => undef })],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['name', 'name.$ne'],
    },
    {
        name    => 'a dotted key, and operator keys nested in ignored fields and in lists, are refused',
        request => ['POST', '/api/products', body(id => new_id(), 'rating.value' => 5,
            meta => { inner => { '$set' => { price => 1 } } }, flowers => [{ '$gt' => '' }])],
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['rating.value', 'meta.inner.$set', 'flowers[0].$gt', 'flowers[0]'],
    },
    {
        name    => 'PATCH with $set, $inc or $unset keys is refused',
        request => sub { ['PATCH', "/api/products/$P", { '$set' => { price => 1 }, '$inc' => { stock => 5 }, '$unset' => { name => 1 } }] },
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['$set', '$inc', '$unset'],
        then    => sub { is(product_of(get_admin($P))->{price}, 25000, 'the price is unchanged') },
    },
    {
        # Protects: operators inside text are text.
        name    => 'text that looks like operators is stored and shown literally',
        request => sub { my $id = new_id(); $ctx{lit} = $id;
                         ['POST', '/api/products', body(id => $id, name => '{"$ne": null} $where',
                              description => 'db.products.drop(); {"$gt": ""} \\ ^.*$', flowers => ['$regex', '.*'])] },
        token   => $ADMIN,
        status  => 201,
        then    => sub {
            my $p = product_of(get_admin($ctx{lit}));
            is($p->{name}, '{"$ne": null} $where', 'name as sent');
            is($p->{description}, 'db.products.drop(); {"$gt": ""} \\ ^.*$', 'description as sent');
            is_deeply($p->{flowers}, ['$regex', '.*'], 'flowers as sent');
        },
    },
    {
        name    => 'rating, reviews_count, createdAt in a body are the service\'s own: ignored',
        request => sub { my $id = new_id(); $ctx{ro} = $id;
                         ['POST', '/api/products', body(id => $id, rating => 5, reviews_count => 999,
                              createdAt => '2000-01-01T00:00:00.000Z')] },
        token   => $ADMIN,
        status  => 201,
        json    => { data => { product => { rating => 0, reviews_count => 0, createdAt => qr/^(?!2000)/ } } },
    },

    # ---- who may write -------------------------------------------------------------------------
    (map {
        my ($m, $path, $b) = @$_;
        (
            {
                name    => "$m $path: anonymous callers get 401",
                request => sub { [$m, $path =~ s/:P/$P/r, $b] },
                status  => 401,
                code    => 'UNAUTHORIZED',
                headers_like => { 'WWW-Authenticate' => qr/^Bearer / },
            },
            {
                name    => "$m $path: customers get 403",
                request => sub { [$m, $path =~ s/:P/$P/r, $b] },
                token   => $CUSTOMER,
                status  => 403,
                code    => 'FORBIDDEN',
            },
        )
    } (['POST', '/api/products', body(id => 'T61NOPE')],
       ['PUT', '/api/products/:P', body()],
       ['PATCH', '/api/products/:P', { price => 1 }],
       ['PATCH', '/api/products/:P/stock', { stock => 0 }],
       ['DELETE', '/api/products/:P', undef])),
    {
        name    => 'after all those refusals the product is as it was',
        request => sub { ['GET', "/api/products/$P"] },
        status  => 200,
        json    => { data => { product => { price => 25000, stock => 10, active => $TRUE } } },
    },
    {
        name    => 'a bad token is 401 at the gateway, even for a public read',
        request => ['GET', '/api/products/AML001'],
        token   => mint_jwt({ sub => '5' }, bad_signature => 1),
        status  => 401,
        code    => 'UNAUTHORIZED',
    },

    # ---- replace (PUT) -----------------------------------------------------------------------
    {
        name    => 'PUT replaces the product: fields left out go back to their empty values',
        request => sub { ['PUT', "/api/products/$P", { name => 'Ramo reemplazado', description => 'Todo nuevo en este ramo',
                                                       price => 27000, category => $CAT, featured => JSON::PP::true }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { id => $P, name => 'Ramo reemplazado', price => 27000, original_price => undef,
            stock => 0, featured => $TRUE, active => $TRUE, flowers => [], colors => [], occasions => [],
            images => [], extras => [], size => '', delivery_time => '', care_instructions => '' } } },
        then    => sub {
            my $p = product_of($_[0]);
            ok($p->{updatedAt} ge $p->{createdAt}, 'updatedAt moved on');
        },
    },
    {
        name    => 'PUT with another id in the body is refused',
        request => sub { ['PUT', "/api/products/$P", body(id => 'OTRO')] },
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['id'],
    },
    {
        name    => 'PUT with the same id in the body is fine',
        request => sub { ['PUT', "/api/products/$P", body(id => $P)] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { stock => 10, flowers => ['Rosas', 'Eucalipto'] } } },
    },
    {
        name    => 'PUT needs every required field',
        request => sub { ['PUT', "/api/products/$P", { name => 'Solo nombre' }] },
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(description price category)],
    },
    {
        name    => 'PUT of an unknown product is 404 (no creation by PUT)',
        request => ['PUT', '/api/products/T61NOSUCH', body()],
        token   => $ADMIN,
        status  => 404,
        code    => 'NOT_FOUND',
    },

    # ---- partial update (PATCH) ----------------------------------------------------------------
    {
        name    => 'PATCH changes what it names and nothing else',
        request => sub { ['PATCH', "/api/products/$P", { price => 26000, colors => ['blanco', 'rosa'] }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { price => 26000, colors => ['blanco', 'rosa'], name => 'Ramo de prueba',
            stock => 10, original_price => 30000, flowers => ['Rosas', 'Eucalipto'] } } },
    },
    {
        name    => 'PATCH original_price null clears it',
        request => sub { ['PATCH', "/api/products/$P", { original_price => undef }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { original_price => undef, price => 26000 } } },
    },
    {
        name    => 'PATCH validates what it gets, every bad field at once',
        request => sub { ['PATCH', "/api/products/$P", { price => -5, name => '', occasions => ['OK'] }] },
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['price', 'name', 'occasions[0]'],
    },
    {
        name    => 'PATCH of an unknown product is 404',
        request => ['PATCH', '/api/products/T61NOSUCH', { price => 1 }],
        token   => $ADMIN,
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'PATCH of an impossible id is 404',
        request => ['PATCH', '/api/products/no%20such', { price => 1 }],
        token   => $ADMIN,
        status  => 404,
        code    => 'NOT_FOUND',
    },

    # ---- stock -----------------------------------------------------------------------------------
    {
        name    => 'stock: set to a value',
        request => sub { ['PATCH', "/api/products/$P/stock", { stock => 5 }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { productId => $P, stock => 5 } },
    },
    {
        name    => 'stock: a negative delta',
        request => sub { ['PATCH', "/api/products/$P/stock", { delta => -3 }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { productId => $P, stock => 2 } },
    },
    {
        # Protects: stock never goes below zero.
        name    => 'stock: a delta past zero is refused, the stock kept',
        request => sub { ['PATCH', "/api/products/$P/stock", { delta => -3 }] },
        token   => $ADMIN,
        status  => 409,
        code    => 'INSUFFICIENT_STOCK',
        then    => sub { is(product_of(get_admin($P))->{stock}, 2, 'still 2') },
    },
    {
        name    => 'stock: down to exactly zero',
        request => sub { ['PATCH', "/api/products/$P/stock", { delta => -2 }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { stock => 0 } },
    },
    {
        name    => 'stock: a positive delta',
        request => sub { ['PATCH', "/api/products/$P/stock", { delta => 7 }] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { stock => 7 } },
    },
    {
        name    => 'stock: past the maximum of 1 000 000 is refused',
        request => sub { ['PATCH', "/api/products/$P/stock", { delta => 999_994 }] },
        token   => $ADMIN,
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['delta'],
    },
    { name => 'stock: both stock and delta', request => sub { ['PATCH', "/api/products/$P/stock", { stock => 1, delta => 1 }] },
      token => $ADMIN, status => 400, code => 'VALIDATION_ERROR', fields => ['stock'] },
    { name => 'stock: neither', request => sub { ['PATCH', "/api/products/$P/stock", {}] },
      token => $ADMIN, status => 400, code => 'VALIDATION_ERROR', fields => ['stock'] },
    { name => 'stock: a negative value', request => sub { ['PATCH', "/api/products/$P/stock", { stock => -1 }] },
      token => $ADMIN, status => 400, code => 'VALIDATION_ERROR', fields => ['stock'] },
    { name => 'stock: not a number', request => sub { ['PATCH', "/api/products/$P/stock", { delta => '-1' }] },
      token => $ADMIN, status => 400, code => 'VALIDATION_ERROR', fields => ['delta'] },
    { name => 'stock: an operator object', request => sub { ['PATCH', "/api/products/$P/stock", { delta => { '$inc' => -1 } }] },
      token => $ADMIN, status => 400, code => 'VALIDATION_ERROR', fields => ['delta'] },
    { name => 'stock of an unknown product', request => ['PATCH', '/api/products/T61NOSUCH/stock', { delta => 1 }],
      token => $ADMIN, status => 404, code => 'NOT_FOUND' },
    {
        # Protects: concurrent changes are atomic: none lost, none past zero.
        name => 'stock: 10 units, 25 concurrent takes of one: exactly 10 succeed, stock 0',
        then => sub {
            my $r = api('PATCH', "/api/products/$P/stock", { stock => 10 }, bearer($ADMIN));
            is($r->{status}, 200, 'stock 10');
            my @st = concurrently(25, sub {
                api('PATCH', "/api/products/$P/stock", { delta => -1 }, bearer($ADMIN))->{status} });
            is_deeply(\@st, [(200) x 10, (409) x 15], 'ten 200, fifteen 409') or diag("@st");
            is(product_of(get_admin($P))->{stock}, 0, 'stock 0');
            @st = concurrently(20, sub {
                api('PATCH', "/api/products/$P/stock", { delta => 3 }, bearer($ADMIN))->{status} });
            is_deeply(\@st, [(200) x 20], 'twenty concurrent additions') or diag("@st");
            is(product_of(get_admin($P))->{stock}, 60, 'none lost: 60');
        },
    },

    # ---- soft delete -----------------------------------------------------------------------------
    {
        name    => 'DELETE withdraws the product: 200 with active false',
        request => sub { ['DELETE', "/api/products/$P"] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { id => $P, active => $FALSE } } },
    },
    {
        name    => 'withdrawn: 404 for the public',
        request => sub { ['GET', "/api/products/$P"] },
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'withdrawn: an administrator still sees it, everything kept',
        request => sub { ['GET', "/api/products/$P"] },
        token   => $ADMIN,
        status  => 200,
        json    => { data => { product => { id => $P, active => $FALSE, stock => 60, price => 26000 } } },
        headers_like => { 'Cache-Control' => 'private, no-store' },
    },
    {
        name    => 'withdrawn: out of the listing and of the category counts',
        request => ['GET', "/api/products?category=$CAT&limit=100"],
        status  => 200,
        then    => sub {
            ok(!grep({ $_->{id} eq $P } @{ shift->{json}{data}{products} }), 'not listed');
        },
    },
    {
        name    => 'withdrawn: its id stays taken',
        request => sub { ['POST', '/api/products', body(id => $P)] },
        token   => $ADMIN,
        status  => 409,
        code    => 'ID_TAKEN',
    },
    {
        name    => 'DELETE again: still 200 (already withdrawn)',
        request => sub { ['DELETE', "/api/products/$P"] },
        token   => $ADMIN,
        status  => 200,
    },
    {
        name    => 'DELETE of an unknown product is 404',
        request => ['DELETE', '/api/products/T61NOSUCH'],
        token   => $ADMIN,
        status  => 404,
        code    => 'NOT_FOUND',
    },
    {
        name    => 'PATCH active true puts it back on sale',
        request => sub { ['PATCH', "/api/products/$P", { active => JSON::PP::true }] },
        token   => $ADMIN,
        status  => 200,
        then    => sub {
            is(api('GET', "/api/products/$P")->{status}, 200, 'public again');
        },
    },
]);

finish();
