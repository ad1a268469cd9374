# cache.t: flores_cache_zone and flores_cache_bump.  A response from an upstream
# that carries the configured header starts a new generation in shared memory,
# seen at once by both workers through $flores_cache_generation_<zone>, so a
# cache keyed by it serves nothing stored before the write; nothing else
# bumps: not a client's header, not nginx's own responses, not a cached copy.
# Mistakes stop nginx at configuration time.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket 'no_plan';
use Flores::NginxTest;

master_on();
workers(2);

my $http_config = <<'_EOC_';
    flores_metrics_zone zone=metrics:1m;
    flores_cache_zone   catalog;
    flores_cache_zone   other;
    proxy_cache_path    $TEST_NGINX_SERVROOT/cache keys_zone=catalog:1m;
_EOC_

my $config = <<'_EOC_';
    location = /metrics { flores_metrics; }

    location = /generation {
        return 200 "$flores_cache_generation_catalog $flores_cache_generation_other\n";
    }

    # the catalogue: cached, keyed by the generation
    location = /list {
        proxy_cache catalog;
        proxy_cache_key "$flores_cache_generation_catalog $uri";
        proxy_cache_valid 200 1h;
        add_header X-Cache $upstream_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/list;
    }

    # an admin write: the backend's answer says the catalogue changed
    location = /write {
        flores_cache_bump catalog;
        proxy_hide_header X-Flores-Cache-Invalidate;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/write;
    }

    # the same header name, but the backend does not send it
    location = /plain {
        flores_cache_bump catalog;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/plain;
    }

    # the header comes from nginx itself, not from an upstream
    location = /local {
        flores_cache_bump catalog;
        add_header X-Flores-Cache-Invalidate catalog;
        return 200 "local\n";
    }

    # a header of another name, and another zone
    location = /write-other {
        flores_cache_bump other header=X-Other-Changed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/other;
    }

    # a cached answer that carries the header: bumps when fetched, not when served
    location = /cached-write {
        flores_cache_bump catalog;
        proxy_cache catalog;
        proxy_cache_key "fixed $uri";
        proxy_cache_valid 200 1h;
        proxy_ignore_headers Cache-Control Expires;
        add_header X-Cache $upstream_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/write;
    }

    location = /backend/list {
        return 200 "list at $msec\n";
    }

    location = /backend/write {
        add_header X-Flores-Cache-Invalidate catalog;
        return 200 "written\n";
    }

    location = /backend/plain {
        return 200 "plain\n";
    }

    location = /backend/other {
        add_header X-Other-Changed yes;
        add_header X-Flores-Cache-Invalidate catalog;
        return 200 "other\n";
    }
_EOC_

default_blocks(http_config => $http_config, config => $config);

run_tests();

__DATA__

=== TEST 1: a generation is a decimal number per zone, started from the clock
--- request
GET /generation
--- response_body_like: ^[1-9][0-9]{15,19} [1-9][0-9]{15,19}$



=== TEST 2: a write's answer starts a new generation: the next read is fresh, then cached again
--- request eval
["GET /list", "GET /list", "POST /write", "GET /list", "GET /list", "POST /write", "GET /list"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "!X-Flores-Cache-Invalidate", "X-Cache: MISS", "X-Cache: HIT",
 "!X-Flores-Cache-Invalidate", "X-Cache: MISS"]



=== TEST 3: both workers see every bump (twenty writes, each followed by a fresh read)
--- request eval
[map { ("POST /write", "GET /list") } 1 .. 20]
--- response_headers eval
[map { ("!X-Cache", "X-Cache: MISS") } 1 .. 20]



=== TEST 4: bumps are counted in the gateway metrics, per zone
--- request eval
["POST /write", "POST /write", "POST /write-other", "GET /metrics"]
--- response_body_like eval
[qr/written/, qr/written/, qr/other/,
 qr/^flores_gateway_cache_bumps_total\{zone="catalog"\} 2\n^flores_gateway_cache_bumps_total\{zone="other"\} 1$/m]



=== TEST 5: an answer without the header bumps nothing
--- request eval
["GET /plain", "POST /plain", "GET /metrics"]
--- response_body_like eval
[qr/plain/, qr/plain/, qr/bumps_total\{zone="catalog"\} 0$/m]



=== TEST 6: a client sending the header bumps nothing
--- request eval
["POST /plain", "GET /metrics"]
--- more_headers
X-Flores-Cache-Invalidate: catalog
--- response_body_like eval
[qr/plain/, qr/bumps_total\{zone="catalog"\} 0$/m]



=== TEST 7: nginx's own answer, even with the header added, bumps nothing
--- request eval
["GET /local", "GET /metrics"]
--- response_body_like eval
[qr/local/, qr/bumps_total\{zone="catalog"\} 0$/m]



=== TEST 8: another header name bumps its own zone only
--- request eval
["GET /write-other", "GET /metrics"]
--- response_body_like eval
[qr/other/, qr/bumps_total\{zone="catalog"\} 0\n.*bumps_total\{zone="other"\} 1$/ms]



=== TEST 9: an answer served from a cache does not bump again
--- request eval
["GET /cached-write", "GET /cached-write", "GET /cached-write", "GET /metrics"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "!X-Cache"]
--- response_body_like eval
[qr/written/, qr/written/, qr/written/, qr/bumps_total\{zone="catalog"\} 1$/m]



=== TEST 10: a server's bump applies to its locations
--- config
    location = /metrics { flores_metrics; }
    flores_cache_bump catalog;
    location = /w { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/write; }
    location = /backend/write {
        add_header X-Flores-Cache-Invalidate catalog;
        return 200 "written\n";
    }
--- request eval
["POST /w", "GET /metrics"]
--- response_body_like eval
[qr/written/, qr/bumps_total\{zone="catalog"\} 1$/m]



=== TEST 11: the variable of an undeclared zone does not exist
--- http_config
    flores_cache_zone catalog;
--- config
    location = /t { return 200 "$flores_cache_generation_nosuch\n"; }
--- must_die
--- error_log
unknown "flores_cache_generation_nosuch" variable



=== TEST 12: a zone name is what a variable name can end with
--- http_config
    flores_cache_zone Catalog;
--- config
--- must_die
--- error_log
invalid cache zone name "Catalog": 1 to 32 of [a-z0-9_] expected



=== TEST 13: a zone is declared once
--- http_config
    flores_cache_zone catalog;
    flores_cache_zone catalog;
--- config
--- must_die
--- error_log
cache zone "catalog" is duplicate



=== TEST 14: zones are declared at http level only
--- http_config
--- config
    flores_cache_zone catalog;
--- must_die
--- error_log
"flores_cache_zone" directive is not allowed here



=== TEST 15: a bump names a declared zone
--- http_config
    flores_cache_zone catalog;
--- config
    location = /t { flores_cache_bump nosuch; }
--- must_die
--- error_log
unknown cache zone "nosuch" (declare it with "flores_cache_zone" at http level first)



=== TEST 16: the second parameter is header=name
--- http_config
    flores_cache_zone catalog;
--- config
    location = /t { flores_cache_bump catalog X-Changed; }
--- must_die
--- error_log
invalid parameter "X-Changed", "header=name" expected



=== TEST 17: a header name is a token
--- http_config
    flores_cache_zone catalog;
--- config
    location = /t { flores_cache_bump catalog "header=X Changed"; }
--- must_die
--- error_log
invalid header name "X Changed"



=== TEST 18: one bump per location
--- http_config
    flores_cache_zone catalog;
    flores_cache_zone other;
--- config
    location = /t { flores_cache_bump catalog; flores_cache_bump other; }
--- must_die
--- error_log
"flores_cache_bump" directive is duplicate



=== TEST 19: a cache's keys_zone may share the zone's name (TEST 2 runs with both named catalog)
--- request
GET /list
--- response_headers
X-Cache: MISS



=== TEST 20: each bump is logged at info with the request that caused it
--- request
POST /write
--- error_log eval
qr/\[info\] .*flores cache "catalog": generation [0-9]+ after POST \/write/
