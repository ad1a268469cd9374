#!/usr/bin/env perl
# The platform in containers: builds the images (./flores images), brings up
# deploy/compose/compose.yaml (./flores compose up: stores, migrations and the administrator,
# the services with product twice, the gateway), runs the smoke flow through the gateway
# (register, login, browse, cart, order, contact mail in the sink), checks that both product
# replicas served requests and that the administrator exists, checks the trust boundaries
# (a FastCGI request to a service without the gateway key is refused, the internal API
# passage is no port, the stores have no guest, no default user and no password-less login,
# and a service's credentials reach only its own data), then takes it all down (containers,
# network, volumes, the podman API it started).
#
# Its own Compose project (florestest), directory (run/compose-test) and ports (127.0.0.1:
# 30180 public, 30181 internal, 30190 Prometheus).  Runnable alone: prove -v t/deploy/40-compose.t
# FLORES_DEPLOY_PORT_BASE=N moves the ports to N+180, N+181, N+190 and the project to
# florestestN, beside another run of this test.
use strict;
use warnings;
use FindBin;
use Cwd qw(abs_path);
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Test::More;

my $root = abs_path("$FindBin::Bin/../..");
my $dir  = "$root/run/compose-test";
my $base = $ENV{FLORES_DEPLOY_PORT_BASE} || 30000;
my $project = $base == 30000 ? 'florestest' : "florestest$base";
my %env  = (
    FLORES_COMPOSE_DIR             => $dir,
    FLORES_COMPOSE_PROJECT         => $project,
    FLORES_COMPOSE_HTTP_PORT       => $base + 180,
    FLORES_COMPOSE_INTERNAL_PORT   => $base + 181,
    FLORES_COMPOSE_PROMETHEUS_PORT => $base + 190,
    FLORES_ADMIN_EMAIL             => 'admin@compose.test',
);
@ENV{ keys %env } = values %env;
my $url      = "http://127.0.0.1:$env{FLORES_COMPOSE_HTTP_PORT}";
my $internal = "http://127.0.0.1:$env{FLORES_COMPOSE_INTERNAL_PORT}";
my $t0       = time;
my $json     = JSON::PP->new->utf8->canonical;
my $http     = HTTP::Tiny->new(timeout => 15);
my $brought_up = 0;

# Runs a command from the repository with a time bound; its output goes to the TAP stream as
# diagnostics when it fails.  Returns true on exit status 0.
sub run_step {
    my ($secs, @cmd) = @_;
    my $out = qx{cd '$root' && timeout $secs @cmd 2>&1};
    my $rc  = $?;
    if ($rc != 0) {
        my @lines = split /\n/, $out;
        splice @lines, 0, @lines - 60 if @lines > 60;
        diag join("\n", "\$ @cmd (exit " . ($rc >> 8) . ")", @lines);
    }
    return wantarray ? ($rc == 0, $out) : $rc == 0;
}

sub api {
    my ($method, $path, $body, $token, $headers) = @_;
    my %h = (Accept => 'application/json', %{ $headers // {} });
    $h{Authorization} = "Bearer $token" if $token;
    my %opt = (headers => \%h);
    if (defined $body) {
        $h{'Content-Type'} = 'application/json';
        $opt{content} = $json->encode($body);
    }
    my $res  = $http->request($method, "$url$path", \%opt);
    my $data = eval { $json->decode($res->{content}) };
    return ($res->{status}, $data, $res);
}

sub take_down {
    return unless $brought_up;
    $brought_up = 0;
    my $ok = run_step(300, './flores', 'compose', 'down');
    ok($ok, 'compose down: containers, network and volumes removed');
    my $left = qx{cd '$root' && tools/container-engine cmd ps -a --filter label=com.docker.compose.project=$project -q 2>&1};
    is($left, '', 'no container of the project is left');
    my $pidfile = "$dir/podman-service.pid";
    ok(!-e $pidfile, 'the podman API started for the test is stopped');
}

END {
    if ($brought_up) {
        # A failed step: still tear everything down.
        system("cd '$root' && timeout 300 ./flores compose down >/dev/null 2>&1");
    }
}

# ---- images --------------------------------------------------------------------------------

my $t = time;
ok(run_step(3600, './flores', 'images'), './flores images built flores/gateway, flores/services, flores/stores')
    or BAIL_OUT('no images');
note(sprintf 'images: %.0f s', time - $t);
for my $image (qw(flores/gateway flores/services)) {
    my $conf = qx{cd '$root' && tools/container-engine cmd image inspect --format '{{.Config.User}}|{{json .Config.Healthcheck}}' $image 2>&1};
    chomp $conf;
    my ($user, $hc) = split /\|/, $conf, 2;
    is($user, 'flores', "$image runs as user flores");
    like($hc // '', qr/health/, "$image declares a health check");
}

# `./flores compose exec -T SERVICE sh -c SCRIPT`: its output and exit status.
sub in_container {
    my ($svc, $script) = @_;
    $script =~ s/'/'\\''/g;
    my $out = qx{cd '$root' && timeout 60 ./flores compose exec -T $svc sh -c '$script' 2>&1};
    return ($? >> 8, $out);
}
sub secret {
    my ($path) = @_;
    open my $fh, '<', "$dir/secrets/$path" or return '';
    local $/;
    my $text = <$fh>;
    close $fh;
    $text =~ s/\s+\z//;
    return $text;
}

# The stores' side: checked as soon as the stores run, even when a later step of `up` fails.
sub store_boundaries {
    my ($rc, $out);
    # RabbitMQ: no guest; the users are the services' own.
    my $ctl = 'setpriv --reuid rabbitmq --regid rabbitmq --init-groups env HOME=/var/lib/flores-store/rabbitmq '
        . 'RABBITMQ_NODENAME=rabbit@localhost /usr/lib/rabbitmq/bin/rabbitmqctl';
    ($rc, $out) = in_container(rabbitmq => "$ctl list_users --quiet");
    unlike($out, qr/^guest\b/m, 'RabbitMQ: no user guest') or diag($out);
    like($out, qr/^flores-order\b/m, 'RabbitMQ: a user per service (flores-order)') or diag($out);
    ($rc, $out) = in_container(rabbitmq => "$ctl authenticate_user guest guest");
    isnt($rc, 0, 'RabbitMQ: guest/guest cannot log in') or diag($out);
    ($rc, $out) = in_container(rabbitmq => "$ctl list_topic_permissions --quiet");
    like($out, qr/^flores-order\s+flores\.events\s+\S*order\\\.created/m,
         'RabbitMQ: flores-order may publish its own event types on flores.events') or diag($out);
    unlike($out, qr/^flores-order\s+flores\.events\s+\S*user\\\.role_changed/m,
           'and not user.role_changed') or diag($out);

    # Redis: the default user is off; cart's user reaches cart:* only.
    ($rc, $out) = in_container(redis => 'redis-cli -h 127.0.0.1 get cart:1');
    like($out, qr/NOAUTH/, 'Redis: nothing without a user') or diag($out);
    my $cart_pw = secret('cart/redis-password');
    ($rc, $out) = in_container(redis => "redis-cli -h 127.0.0.1 --no-auth-warning --user flores-cart --pass $cart_pw get wishlist:1");
    like($out, qr/NOPERM/, 'Redis: flores-cart cannot read wishlist:*') or diag($out);
    ($rc, $out) = in_container(redis => "redis-cli -h 127.0.0.1 --no-auth-warning --user flores-cart --pass $cart_pw flushall");
    like($out, qr/NOPERM/, 'Redis: nor flush the database') or diag($out);

    # PostgreSQL: passwords on the network; a service's role owns its schema only.
    ($rc, $out) = in_container(postgres => 'psql -X -w -h 127.0.0.1 -U flores_auth -d flores -tAc "select 1"');
    isnt($rc, 0, 'PostgreSQL: no login without the password') or diag($out);
    my $order_pw = secret('order/pg-password');
    ($rc, $out) = in_container(postgres => "PGPASSWORD=$order_pw psql -X -w -h 127.0.0.1 -U flores_order -d flores -tAc 'select count(*) from orders.schema_migrations'");
    is($rc, 0, 'PostgreSQL: flores_order reads its own schema') or diag($out);
    ($rc, $out) = in_container(postgres => "PGPASSWORD=$order_pw psql -X -w -h 127.0.0.1 -U flores_order -d flores -tAc 'select count(*) from auth.schema_migrations'");
    like($out, qr/permission denied/, 'PostgreSQL: flores_order cannot read auth\'s schema') or diag($out);
}

# ---- up --------------------------------------------------------------------------------------

# Whatever an interrupted earlier run left.
run_step(300, './flores', 'compose', 'down');
system('rm', '-rf', "$dir/mail", "$dir/secrets", "$dir/stores");

$brought_up = 1;
$t = time;
my ($up, $up_out) = run_step(900, './flores', 'compose', 'up');
ok($up, './flores compose up: stores, migrations, services, gateway healthy');
store_boundaries();
$up or do { take_down(); done_testing(); exit 1 };
note(sprintf 'compose up: %.0f s', time - $t);
like($up_out, qr/applied 001_init\.sql \(schema auth\)/, 'the migrations ran in the one-shot container');

my ($st, $d) = api(GET => '/health');
is($st, 200, 'GET /health through the gateway: 200');
is($d->{data}{status}, 'ok', 'every service up, every circuit closed')
    or diag($json->encode($d // {}));
is(scalar keys %{ $d->{data}{services} // {} }, 8, 'the gateway checks eight services');

my ($hok, $hout) = run_step(120, './flores', 'compose', 'health');
ok($hok, "every container's health check passes");
is(scalar(() = $hout =~ /_product_\d+\s+healthy/g), 2, 'both product replicas are healthy') or diag($hout);

my $ires = $http->get("$internal/health");
is($ires->{status}, 200, 'the internal listener answers (gateway liveness)');

my $page = $http->get("$url/");
is($page->{status}, 200, 'the storefront page is served by the gateway');
like($page->{headers}{'content-type'} // '', qr{text/html}, 'as HTML');

# ---- the smoke flow ----------------------------------------------------------------------------

my $stamp = sprintf '%d%04d', time, $$ % 10000;
my $email = "compose.$stamp\@example.com";
my $password = 'Compose-smoke-1';

($st, $d) = api(POST => '/api/auth/register', { name => 'Compose Smoke', email => $email, password => $password });
is($st, 201, 'register: 201') or diag($json->encode($d // {}));

($st, $d) = api(POST => '/api/auth/login', { email => $email, password => $password });
is($st, 200, 'login: 200');
my $token = $d->{data}{token};
ok($token, 'login: a token');

($st, $d) = api(GET => '/api/products?limit=50');
is($st, 200, 'browse the catalogue: 200');
my @products = @{ $d->{data}{products} // [] };
cmp_ok(scalar @products, '>', 0, 'the seed catalogue is loaded') or diag($json->encode($d // {}));
my ($product) = grep { ($_->{stock} // 0) >= 2 } @products;
ok($product, 'a product in stock') or diag($json->encode(\@products));
my $pid = $product ? $product->{id} : 'none';

($st, $d) = api(GET => "/api/products/$pid");
is($st, 200, "product $pid: 200");

($st, $d) = api(POST => '/api/cart/items', { productId => $pid, quantity => 2 }, $token);
ok($st == 200 || $st == 201, "add $pid to the cart: $st") or diag($json->encode($d // {}));
($st, $d) = api(GET => '/api/cart', undef, $token);
is($st, 200, 'read the cart: 200');
is($d->{data}{cart}{count}, 2, 'the cart holds the two items') or diag($json->encode($d // {}));

($st, $d) = api(POST => '/api/orders', {
        shippingAddress => { recipient => 'Compose Smoke', street => 'Av. Siempre Viva 742',
            city => 'Victoria', region => 'Araucanía', postalCode => '4720000', phone => '+56911112222' },
        paymentMethod => 'transfer',
    }, $token, { 'Idempotency-Key' => "compose-$stamp" });
is($st, 201, 'place an order from the cart: 201') or diag($json->encode($d // {}));
my $order = $d->{data}{order} // {};
is(scalar @{ $order->{items} // [] }, 1, 'the order has the cart line');
cmp_ok($order->{total} // 0, '>', 0, 'the order has a total');
($st, $d) = api(GET => '/api/cart', undef, $token);
is($d->{data}{cart}{count} // -1, 0, 'the cart is empty after the order');

my $marker = "compose-smoke-$stamp";
($st, $d) = api(POST => '/api/contact', { name => 'Compose Smoke', email => $email, subject => 'consulta',
        message => "Hello from the containers, $marker." });
is($st, 202, 'contact form: 202') or diag($json->encode($d // {}));

my $found = 0;
for (1 .. 60) {
    for my $file (glob "$dir/mail/*") {
        open my $fh, '<', $file or next;
        local $/;
        my $text = <$fh>;
        close $fh;
        if ($text =~ /\Q$marker\E/) { $found = 1; last }
    }
    last if $found;
    sleep 0.5;
}
ok($found, 'the contact mail reached the SMTP sink (mail/ on the host)');

# ---- trust boundaries --------------------------------------------------------------------------

# From another container on the network (cart), product's FastCGI port directly.
my $fcgi = 'env -i REQUEST_METHOD=GET REQUEST_URI=/health SCRIPT_NAME=/health DOCUMENT_URI=/health '
    . 'QUERY_STRING= SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=x SERVER_PORT=9000 REMOTE_ADDR=10.0.0.9 '
    . 'GATEWAY_INTERFACE=CGI/1.1';
my ($rc, $out) = in_container(cart => "$fcgi timeout 5 cgi-fcgi -bind -connect product:9000");
like($out, qr/^Status: 403/m, 'a FastCGI request to a service without the gateway key: 403')
    or diag($out);
unlike($out, qr/"status":"ok"/, 'and nothing of the service\'s health');
($rc, $out) = in_container(cart => "$fcgi FLORES_GATEWAY_KEY=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "
    . 'timeout 5 cgi-fcgi -bind -connect product:9000');
like($out, qr/^Status: 403/m, 'with a wrong key: 403') or diag($out);
($rc, $out) = in_container(cart => "$fcgi FLORES_GATEWAY_KEY=\$(cat /run/secrets/flores/gateway.key) "
    . 'timeout 5 cgi-fcgi -bind -connect product:9000');
like($out, qr/^Status: 200/m, 'with the deployment\'s key: 200 (the key is what decides)') or diag($out);
($rc, $out) = in_container(cart => 'test -S /run/flores/internal.sock && echo socket');
like($out, qr/socket/, 'the internal API passage is the gateway\'s unix socket on the shared volume');

# ---- the administrator, the replicas ---------------------------------------------------------

my $admin_password = do {
    open my $fh, '<', "$dir/secrets/admin.password" or die "$dir/secrets/admin.password: $!";
    my $line = <$fh>;
    chomp $line;
    $line;
};
($st, $d) = api(POST => '/api/auth/login', { email => $env{FLORES_ADMIN_EMAIL}, password => $admin_password });
is($st, 200, 'the administrator made by the migrate container signs in');
is($d->{data}{user}{role}, 'admin', 'with role admin');
($st, $d) = api(GET => '/api/orders/all', undef, $d->{data}{token});
is($st, 200, 'the administrator lists every order');
ok((grep { ($_->{id} // '') eq ($order->{id} // '-') } @{ $d->{data}{orders} // [] }), 'the smoke order is among them');

# Public reads with distinct queries (no cache hit): round robin over both replicas.
for my $i (1 .. 12) {
    api(GET => "/api/products?limit=1&page=$i");
}
my @replicas = split ' ', qx{cd '$root' && ./flores compose ps -q product 2>/dev/null};
is(scalar @replicas, 2, 'product runs as two containers');
for my $id (@replicas) {
    my $metrics = qx{cd '$root' && tools/container-engine cmd exec $id /usr/local/bin/flores-container metrics 2>&1};
    my $api = 0;
    while ($metrics =~ /^flores_http_requests_total\{[^}]*route="\/api[^"]*"[^}]*\} (\d+)/mg) {
        $api += $1;
    }
    cmp_ok($api, '>', 0, sprintf('replica %.12s served API requests (%d)', $id, $api));
}

# One replica stopped: nginx passes its requests to the other; the service stays up, its
# breaker closed.
if (@replicas == 2) {
    ok(run_step(60, 'tools/container-engine', 'cmd', 'stop', '-t', '10', $replicas[0]), 'one product replica stopped');
    my @codes = map { (api(GET => "/api/products?limit=1&page=" . (100 + $_)))[0] } 1 .. 6;
    is("@codes", '200 200 200 200 200 200', 'the catalogue still answers through the other replica');
    ($st, $d) = api(GET => '/health');
    is($d->{data}{services}{product}{circuit} // '', 'closed', "product's breaker stays closed");
}

# Prometheus (in the stores image) scrapes the gateway and, through it, every service.
my $targets_up = 0;
my $prom = "http://127.0.0.1:$env{FLORES_COMPOSE_PROMETHEUS_PORT}";
for (1 .. 60) {
    my $res = $http->get("$prom/api/v1/query?query=sum(up)");
    my $q   = eval { $json->decode($res->{content}) } // {};
    $targets_up = $q->{data}{result}[0]{value}[1] // 0;
    last if $targets_up >= 9;
    sleep 1;
}
is($targets_up, 9, 'Prometheus scrapes the gateway and the eight services (up == 1 for all nine targets)');

# ---- down ------------------------------------------------------------------------------------

take_down();
note(sprintf 'total: %.0f s', time - $t0);
done_testing();
