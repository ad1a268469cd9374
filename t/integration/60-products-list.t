#!/usr/bin/perl
# 60-products-list.t: the public catalogue through the gateway: the seed catalogue loaded; every
# filter (category, occasion, color, minPrice, maxPrice, featured, search), every sort and the
# default order, pagination edges (page past the end, limit 0 and 101, unknown sort); only
# products on sale; search over name and description, case-insensitive and literal, with
# regular-expression metacharacters and a pathological pattern answered promptly; operator
# injection in the query string taken literally or ignored; one product; categories and
# occasions with their counts.
#
# Exact counts and orders come from products this file creates in a category of its own, so
# the file runs any number of times against one stack.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;
use JSON::PP ();
use Time::HiRes ();

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $TRUE  = sub { JSON::PP::is_bool($_[0]) && $_[0] };
my $FALSE = sub { JSON::PP::is_bool($_[0]) && !$_[0] };

my $ADMIN = mint_jwt({ sub => '900000001', email => 'admin-catalogo@example.com', role => 'admin',
                       exp => time + 3600 });

# This run's category and occasions, and a prefix for its product ids.
my $TAG = lc random_hex(4);
my $CAT = "t60_$TAG";
my ($O1, $O2) = ("t60_$TAG" . '_o1', "t60_$TAG" . '_o2');
my $PFX = 'T60' . uc $TAG;
my $LONG_A = 'a' x 40;

# name, price, featured, colors, occasions, active, description
my @FIXTURE = (
    [ 'A', 'Alfa de rosas',             10_000, 1, ['rojo'],            [$O1],      1,
      "Rosas con un texto de prueba (a+)+\$ y también $LONG_A!" ],
    [ 'B', 'Beta de lirios',            20_000, 0, ['blanco'],          [$O1, $O2], 1,
      'Lirios blancos con un punto y asterisco literal .* en el texto' ],
    [ 'C', 'Ceibo [edición] especial',  30_000, 1, ['rojo', 'blanco'],  [$O2],      1,
      'Un corchete en el nombre y una barra invertida \\ en la descripción' ],
    [ 'D', 'Delta retirado',            40_000, 0, ['rojo'],            [$O1],      0,
      'Un producto fuera de venta que ninguna lista pública muestra' ],
    [ 'E', 'Ábaco de tulipanes',         5_000, 0, ['amarillo'],        [],         1,
      'Tulipanes amarillos; el nombre empieza con una vocal acentuada' ],
);

sub pid { return $PFX . $_[0] }

sub create_fixture {
    for my $f (@FIXTURE) {
        my ($k, $name, $price, $featured, $colors, $occasions, $active, $desc) = @$f;
        my $r = api('POST', '/api/products', {
            id => pid($k), name => $name, description => $desc, price => $price,
            category => $CAT, featured => $featured ? JSON::PP::true : JSON::PP::false,
            active => $active ? JSON::PP::true : JSON::PP::false, colors => $colors,
            occasions => $occasions, stock => 3,
        }, bearer($ADMIN));
        return 0 unless $r->{status} == 201;
        Time::HiRes::sleep(0.01);        # distinct createdAt, in creation order
    }
    return 1;
}

sub list {
    my ($query, $headers) = @_;
    return api('GET', "/api/products$query", undef, $headers);
}

# The ids of a listing, without the prefix.
sub ids {
    my $r = shift;
    my $p = ref $r->{json} eq 'HASH' && ref $r->{json}{data} eq 'HASH' ? $r->{json}{data}{products} : undef;
    return 'no product list' unless ref $p eq 'ARRAY';
    return join ',', map { (my $s = $_->{id}) =~ s/^\Q$PFX\E//; $s } @$p;
}

sub pagination {
    my $j = $_[0]{json};
    return ref $j eq 'HASH' && ref $j->{data} eq 'HASH' ? $j->{data}{pagination} || {} : {};
}

# Every product on sale, page by page.
sub all_products {
    my @all;
    for my $page (1 .. 100) {
        my $r = list("?limit=100&page=$page");
        my $p = ref $r->{json} eq 'HASH' ? $r->{json}{data}{products} : undef;
        last unless ref $p eq 'ARRAY' && @$p;
        push @all, @$p;
    }
    return @all;
}

# One listing of this run's category: the ids in order and the total.
sub listing {
    my ($name, $query, $want, %o) = @_;
    my $total = $o{total} // scalar(split /,/, $want);
    return {
        name    => $name,
        request => ['GET', "/api/products?category=$CAT$query"],
        status  => 200,
        max_ms  => $o{max_ms},
        then    => sub {
            my $r = shift;
            is(ids($r), $want, "products $want");
            is(pagination($r)->{total}, $total, "total $total");
        },
    };
}

my $PRODUCT_KEYS = join ',', sort qw(id name description price original_price category stock
    featured active rating reviews_count size delivery_time flowers colors occasions images
    extras care_instructions createdAt updatedAt);

run_blocks([
    {
        name => 'the seed catalogue is loaded: its 56 products, AML001 among them',
        request => ['GET', '/api/products/AML001'],
        status  => 200,
        json    => { data => { product => {
            id => 'AML001', name => 'Ramo "Pasión Eterna"', price => 35000, original_price => 42000,
            category => 'aniversario_amor', featured => $TRUE, active => $TRUE, rating => 4.9,
            reviews_count => 156, colors => ['rojo', 'verde'],
            occasions => ['aniversario', 'amor', 'san_valentin'],
            createdAt => $ISO, updatedAt => $ISO } } },
        then => sub {
            my $r = shift;
            is(join(',', sort keys %{ $r->{json}{data}{product} }), $PRODUCT_KEYS,
                'a product has exactly the documented fields (nothing internal: no _id, sums, event ids)');
            my %ids = map { $_->{id} => 1 } all_products();
            my @seed = grep { /^(?:AML|BBY|BDY|CRP|DEC|EXO|GRD|KIT|MIN|PLT|PRM|SEA|SUS|SYM|THX|VAR)\d{3}\z/ } keys %ids;
            is(scalar(@seed), 56, 'the 56 seed products are listed');
        },
    },
    {
        name => 'fixture: five products of this run (one of them withdrawn)',
        then => sub { ok(create_fixture(), 'created through POST /api/products') or BAIL_OUT('no fixture') },
    },

    # ---- only products on sale -----------------------------------------------------------
    # Protects: withdrawn products never reach a public listing (nor a customer's).
    listing('only active products, default order: featured first, then newest', '', 'C,A,E,B'),
    {
        name    => 'a customer sees the same as anyone',
        request => ['GET', "/api/products?category=$CAT&includeInactive=true"],
        token   => mint_jwt({ sub => '900000002', email => 'c@example.com', exp => time + 3600 }),
        status  => 200,
        then    => sub { is(ids(shift), 'C,A,E,B', 'includeInactive is for administrators only') },
    },
    {
        name    => 'an administrator may list withdrawn products too',
        request => ['GET', "/api/products?category=$CAT&includeInactive=true"],
        token   => $ADMIN,
        status  => 200,
        then    => sub { is(ids(shift), 'C,A,E,D,B', 'D included') },
    },
    {
        name    => 'a withdrawn product is not found publicly',
        request => ['GET', '/api/products/' . pid('D')],
        status  => 404,
        code    => 'NOT_FOUND',
    },

    # ---- filters ---------------------------------------------------------------------------
    listing('featured=true', '&featured=true', 'C,A'),
    listing('featured=false', '&featured=false', 'E,B'),
    listing('color (an element of colors)', '&color=rojo', 'C,A'),
    listing('color with no product', '&color=violeta', '', total => 0),
    listing('occasion (an element of occasions)', "&occasion=$O1", 'A,B'),
    listing('occasion, other', "&occasion=$O2", 'C,B'),
    listing('minPrice (inclusive)', '&minPrice=20000', 'C,B'),
    listing('maxPrice (inclusive)', '&maxPrice=20000', 'A,E,B'),
    listing('minPrice = maxPrice', '&minPrice=20000&maxPrice=20000', 'B'),
    listing('every filter at once', "&featured=true&color=blanco&occasion=$O2&minPrice=25000&maxPrice=30000", 'C'),
    {
        name    => 'minPrice above maxPrice is refused',
        request => ['GET', "/api/products?category=$CAT&minPrice=30000&maxPrice=10000"],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['maxPrice'],
    },
    {
        name    => 'bad filter values: each named',
        request => ['GET', "/api/products?minPrice=cheap&maxPrice=-1&featured=maybe&sort=bogus&page=0&limit=abc"],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => [qw(minPrice maxPrice featured sort page limit)],
    },
    {
        name    => 'an unknown category is an empty list, not an error',
        request => ['GET', '/api/products?category=no_such_category_' . $TAG],
        status  => 200,
        then    => sub {
            my $r = shift;
            is(ids($r), '', 'no products');
            is_deeply(pagination($r), { page => 1, limit => 20, total => 0, pages => 0 }, 'pagination 1/20/0/0');
        },
    },

    # ---- sorts -----------------------------------------------------------------------------
    listing('sort=price', '&sort=price', 'E,A,B,C'),
    listing('sort=-price', '&sort=-price', 'C,B,A,E'),
    # Protects: names sort as a Spanish reader expects ("Ábaco" first), on any MongoDB.
    listing('sort=name (accents folded)', '&sort=name', 'E,A,B,C'),
    listing('sort=-createdAt', '&sort=-createdAt', 'E,C,B,A'),
    listing('sort=-rating (ties by id)', '&sort=-rating', 'A,B,C,E'),
    {
        name    => 'sort=-rating over the seed: ratings never increase down the list',
        request => ['GET', '/api/products?sort=-rating&limit=100'],
        status  => 200,
        then    => sub {
            my @r = map { [$_->{rating}, $_->{reviews_count}] } @{ shift->{json}{data}{products} };
            my $bad = grep { $r[$_][0] > $r[$_ - 1][0] } 1 .. $#r;
            is($bad, 0, 'non-increasing ratings');
            is($r[0][0], 5, 'the best rated first');
        },
    },
    {
        name    => 'sort=price over everything: prices never decrease',
        request => ['GET', '/api/products?sort=price&limit=100'],
        status  => 200,
        then    => sub {
            my @p = map { $_->{price} } @{ shift->{json}{data}{products} };
            is(scalar(grep { $p[$_] < $p[$_ - 1] } 1 .. $#p), 0, 'non-decreasing prices');
        },
    },
    {
        name    => 'an unknown sort is refused',
        request => ['GET', '/api/products?sort=-name'],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['sort'],
    },

    # ---- pagination --------------------------------------------------------------------------
    {
        name    => 'limit=2: the first page',
        request => ['GET', "/api/products?category=$CAT&limit=2"],
        status  => 200,
        then    => sub {
            my $r = shift;
            is(ids($r), 'C,A', 'C,A');
            is_deeply(pagination($r), { page => 1, limit => 2, total => 4, pages => 2 }, 'pagination 1/2/4/2');
        },
    },
    {
        name    => 'limit=2: the last page',
        request => ['GET', "/api/products?category=$CAT&limit=2&page=2"],
        status  => 200,
        then    => sub { is(ids(shift), 'E,B', 'E,B: no product twice, none missed') },
    },
    {
        # Protects: a page past the end is an empty list with the real totals, not an error.
        name    => 'a page past the end: empty, with the totals',
        request => ['GET', "/api/products?category=$CAT&limit=2&page=3"],
        status  => 200,
        then    => sub {
            my $r = shift;
            is(ids($r), '', 'no products');
            is_deeply(pagination($r), { page => 3, limit => 2, total => 4, pages => 2 }, 'pagination 3/2/4/2');
        },
    },
    {
        name    => 'far past the end',
        request => ['GET', "/api/products?category=$CAT&page=1000000"],
        status  => 200,
        then    => sub { is_deeply(pagination(shift), { page => 1000000, limit => 20, total => 4, pages => 1 }) },
    },
    { name => 'limit=0 is refused',   request => ['GET', '/api/products?limit=0'],   status => 400, code => 'VALIDATION_ERROR', fields => ['limit'] },
    { name => 'limit=101 is refused', request => ['GET', '/api/products?limit=101'], status => 400, code => 'VALIDATION_ERROR', fields => ['limit'] },
    {
        name    => 'limit=100 is the most',
        request => ['GET', '/api/products?limit=100'],
        status  => 200,
        then    => sub { is(pagination(shift)->{limit}, 100, 'limit 100') },
    },
    { name => 'page=0 is refused',    request => ['GET', '/api/products?page=0'],    status => 400, code => 'VALIDATION_ERROR', fields => ['page'] },
    { name => 'page=-1 is refused',   request => ['GET', '/api/products?page=-1'],   status => 400, code => 'VALIDATION_ERROR', fields => ['page'] },
    { name => 'page=1.5 is refused',  request => ['GET', '/api/products?page=1.5'],  status => 400, code => 'VALIDATION_ERROR', fields => ['page'] },

    # ---- search --------------------------------------------------------------------------
    listing('search over names, any case', '&search=ALFA', 'A'),
    listing('search over descriptions', '&search=lirios%20BLANCOS', 'B'),
    listing('search with an accented letter in another case', '&search=%C3%81BACO', 'E'),
    # Protects: user input is escaped: metacharacters match themselves and nothing else, and
    # no pattern of the user's can be slow: as a regular expression, "(a+)+$" would take the
    # server for minutes over A's description (forty a's and a "!").
    listing('search "(a+)+$" matches that text literally, promptly', '&search=(a%2B)%2B%24', 'A',
        max_ms => 1000),
    listing('search ".*" matches a literal dot and star only', '&search=.*', 'B'),
    listing('search "o [" matches a literal bracket only', '&search=o%20%5B', 'C'),
    # A trailing backslash would not even be a valid regular expression.
    listing('search ending with a backslash matches it literally', '&search=invertida%20%5C', 'C'),
    {
        name    => 'search "\\" alone is too short (two characters at least)',
        request => ['GET', "/api/products?category=$CAT&search=%5C"],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['search'],
    },
    listing('search "a.c" does not match "abc"-like text (the dot is literal)', '&search=r.sas', ''),
    listing('search "|" is not an alternation', '&search=Alfa%7CBeta', ''),
    listing('search "^Alfa" is not an anchor', '&search=%5EAlfa', ''),
    {
        name    => 'a nested pathological pattern over every product: prompt, and nothing matches',
        request => ['GET', '/api/products?search=((a%2B)%2B)%2B%24' . $TAG],
        status  => 200,
        max_ms  => 1000,
        then    => sub { is(pagination(shift)->{total}, 0, 'no product holds that text') },
    },
    {
        name    => 'search of one character is refused',
        request => ['GET', '/api/products?search=a'],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['search'],
    },
    {
        name    => 'search is trimmed before its length is checked',
        request => ['GET', '/api/products?search=%20%20a%20%20'],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['search'],
    },
    {
        name    => 'search of 101 characters is refused',
        request => ['GET', '/api/products?search=' . ('x' x 101)],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['search'],
    },
    {
        name    => 'search with a control character is refused',
        request => ['GET', '/api/products?search=ab%01cd'],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['search'],
    },

    # ---- operator injection in the query string ---------------------------------------------
    # Protects: bracketed keys are not parsed into objects: "category[$ne]" is no argument at
    # all, so the listing is the category's own.
    listing('category[$ne]=x beside category: ignored', '&category[$ne]=x', 'C,A,E,B'),
    listing('category[$ne] percent-encoded: ignored', '&category%5B%24ne%5D=x', 'C,A,E,B'),
    listing('minPrice[$gt]=0: ignored', '&minPrice[$gt]=0&maxPrice=10000', 'A,E'),
    listing('search[$regex]=.*: ignored', '&search[$regex]=.*', 'C,A,E,B'),
    {
        name    => 'category[$ne]=x alone lists what no filter lists',
        request => ['GET', '/api/products?category[$ne]=x&limit=1'],
        status  => 200,
        then    => sub {
            my $r = shift;
            my $all = list('?limit=1');
            is(pagination($r)->{total}, pagination($all)->{total}, 'the same total as no filter');
        },
    },
    {
        # Protects: a value is a value: an operator written into it is just text to compare.
        name    => 'category={"$ne":null} is a category name like any other (none)',
        request => ['GET', '/api/products?category=%7B%22%24ne%22%3Anull%7D'],
        status  => 200,
        then    => sub { is(pagination(shift)->{total}, 0, 'no product has that category') },
    },
    {
        name    => 'color=$ne is a color name like any other (none)',
        request => ['GET', '/api/products?color=%24ne'],
        status  => 200,
        then    => sub { is(pagination(shift)->{total}, 0, 'no product has that color') },
    },
    {
        name    => 'a repeated filter is refused, not merged into a list',
        request => ['GET', "/api/products?category=$CAT&category=x"],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['category'],
    },
    {
        name    => 'minPrice={"$gt":0} is not a number',
        request => ['GET', '/api/products?minPrice=%7B%22%24gt%22%3A0%7D'],
        status  => 400,
        code    => 'VALIDATION_ERROR',
        fields  => ['minPrice'],
    },

    # ---- one product -------------------------------------------------------------------------
    {
        name    => 'one product, by id',
        request => ['GET', '/api/products/' . pid('B')],
        status  => 200,
        json    => { data => { product => { id => pid('B'), name => 'Beta de lirios', price => 20000,
            original_price => undef, category => $CAT, stock => 3, featured => $FALSE, active => $TRUE,
            rating => 0, reviews_count => 0, colors => ['blanco'], occasions => [$O1, $O2],
            flowers => [], images => [], extras => [], size => '', delivery_time => '',
            care_instructions => '', createdAt => $ISO, updatedAt => $ISO } } },
    },
    { name => 'an unknown product is 404', request => ['GET', "/api/products/${PFX}ZZ"], status => 404, code => 'NOT_FOUND' },
    # Decision: an id that no product can have ([A-Z0-9_-]{1,32}) is the same 404.
    { name => 'a lower-case id is 404', request => ['GET', '/api/products/aml001'], status => 404, code => 'NOT_FOUND' },
    { name => 'an id of 33 characters is 404', request => ['GET', '/api/products/' . ('A' x 33)], status => 404, code => 'NOT_FOUND' },
    { name => 'an id with $ is 404', request => ['GET', '/api/products/%24ne'], status => 404, code => 'NOT_FOUND' },
    { name => 'an id with a dot is 404', request => ['GET', '/api/products/AML001.json'], status => 404, code => 'NOT_FOUND' },

    # ---- categories and occasions ------------------------------------------------------------
    {
        name    => 'categories with their counts of products on sale',
        request => ['GET', '/api/products/categories'],
        status  => 200,
        then    => sub {
            my $list = shift->{json}{data}{categories};
            my ($mine) = grep { $_->{slug} eq $CAT } @$list;
            is_deeply($mine, { slug => $CAT, name => ucfirst($CAT =~ s/_/ /gr), count => 4 },
                'this run\'s category: 4 (the withdrawn product not counted)');
            my ($bd) = grep { $_->{slug} eq 'cumpleanos' } @$list;
            is_deeply($bd, { slug => 'cumpleanos', name => 'Cumpleaños', count => 4 }, 'cumpleanos: 4, named in Spanish');
            my @c = map { $_->{count} } @$list;
            is(scalar(grep { $c[$_] > $c[$_ - 1] } 1 .. $#c), 0, 'most products first');
        },
    },
    {
        name    => 'occasions with their counts of products on sale',
        request => ['GET', '/api/products/occasions'],
        status  => 200,
        then    => sub {
            my %o = map { $_->{slug} => $_ } @{ shift->{json}{data}{occasions} };
            is($o{$O1}{count}, 2, "$O1: 2 (A and B; D is withdrawn)");
            is($o{$O2}{count}, 2, "$O2: 2 (B and C)");
            is_deeply($o{san_valentin}, { slug => 'san_valentin', name => 'San Valentín', count => 2 },
                'san_valentin: 2, named in Spanish');
        },
    },
    {
        name    => 'categories take no arguments worth caching apart',
        request => ['GET', '/api/products/categories?page=2&junk=1'],
        status  => 200,
    },
    {
        name    => 'POST to a public read path is not a route',
        request => ['POST', '/api/products/categories', {}],
        token   => $ADMIN,
        status  => 405,
        code    => 'METHOD_NOT_ALLOWED',
    },
]);

finish();
