# request_id.t: $flores_request_id keeps a sane client X-Request-ID (1-64 of
# [A-Za-z0-9._-]) and otherwise is a generated 32-hex id; one request keeps
# one id everywhere (backend, response header, error envelope, access log,
# after an internal redirect), and different requests get different ids.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
workers(2);

my $sixty_four = 'a' x 60 . '.-_9';

# "new" for a 32-hex id not seen before in this file.
my %seen;
sub first_time {
    my $id = shift;
    chomp $id;
    return "not an id: $id" unless $id =~ /^[0-9a-f]{32}$/;
    return $seen{$id}++ ? "seen: $id" : 'new';
}

our %H = (
    sixty_four => $sixty_four,
    too_long   => $sixty_four . 'b',
);

my $config = <<'_EOC_';
    add_header X-Request-ID $flores_request_id always;

    location = /id {
        return 200 "$flores_request_id\n";
    }

    location = /proxied {
        proxy_set_header X-Request-ID $flores_request_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }

    location = /backend {
        return 200 "backend saw $http_x_request_id\n";
    }

    location = /twice {
        set $first $flores_request_id;
        return 200 "$first $flores_request_id\n";
    }

    location = /denied {
        flores_jwt on;
        flores_jwt_key_file $TEST_NGINX_KEYS/hs.key;
    }
_EOC_

key_dir();
write_secret('hs.key', 's' x 32);

default_blocks(config => $config);

run_tests();

__DATA__

=== TEST 1: a sane X-Request-ID is kept, and echoed on the response
--- request
GET /id
--- more_headers
X-Request-ID: Req-1.a_b-C
--- response_headers
X-Request-ID: Req-1.a_b-C
--- response_body
Req-1.a_b-C



=== TEST 2: 64 characters is the longest kept
--- request
GET /id
--- more_headers eval
"X-Request-ID: $::H{sixty_four}"
--- response_body eval
"$::H{sixty_four}\n"



=== TEST 3: 65 characters is replaced by a generated id
--- request
GET /id
--- more_headers eval
"X-Request-ID: $::H{too_long}"
--- response_body_like: ^[0-9a-f]{32}$



=== TEST 4: characters outside [A-Za-z0-9._-] are replaced (no log or header injection)
--- request eval
["GET /id", "GET /id", "GET /id", "GET /id"]
--- more_headers eval
["X-Request-ID: abc def", "X-Request-ID: abc\"def", "X-Request-ID: abc/def", "X-Request-ID: \x{e9}t\x{e9}"]
--- response_body_like eval
["^[0-9a-f]{32}\$", "^[0-9a-f]{32}\$", "^[0-9a-f]{32}\$", "^[0-9a-f]{32}\$"]



=== TEST 5: no header, or an empty one: a generated id, on the response too
--- request eval
["GET /id", "GET /id"]
--- more_headers eval
["", "X-Request-ID:"]
--- response_body_like eval
["^[0-9a-f]{32}\$", "^[0-9a-f]{32}\$"]
--- response_headers_like eval
["X-Request-ID: [0-9a-f]{32}", "X-Request-ID: [0-9a-f]{32}"]



=== TEST 6: the header name is case-insensitive
--- request
GET /id
--- more_headers
x-request-id: lower-case
--- response_body
lower-case



=== TEST 7: the backend gets the same id
--- request
GET /proxied
--- more_headers
X-Request-ID: to-the-backend
--- response_body
backend saw to-the-backend



=== TEST 8: a generated id is computed once: every use in a request agrees
--- request
GET /twice
--- response_body_like: ^([0-9a-f]{32}) \1$



=== TEST 9: a generated id survives an internal redirect
--- config
    location = /redirected {
        set $before $flores_request_id;
        error_page 418 = @after;
        return 418;
    }

    location @after {
        return 200 "$before $flores_request_id\n";
    }
--- request
GET /redirected
--- response_body_like: ^([0-9a-f]{32}) \1$



=== TEST 10: different requests get different ids (served by two workers)
--- request eval
["GET /id", "GET /id", "GET /id", "GET /id", "GET /id", "GET /id"]
--- response_body_filters eval
\&::first_time
--- response_body eval
["new", "new", "new", "new", "new", "new"]



=== TEST 11: the error envelope carries the request id
--- request
GET /denied
--- more_headers
X-Request-ID: envelope-id
--- error_code: 401
--- response_headers
X-Request-ID: envelope-id
--- response_body chomp
{"status":"fail","code":"UNAUTHORIZED","message":"Se requiere iniciar sesión","requestId":"envelope-id"}



=== TEST 12: the error envelope carries a generated id, the same as the header
--- request
GET /denied
--- error_code: 401
--- response_body_like: ^\{"status":"fail","code":"UNAUTHORIZED","message":"Se requiere iniciar sesión","requestId":"[0-9a-f]{32}"\}$
