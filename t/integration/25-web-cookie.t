#!/usr/bin/perl
# 25-web-cookie.t: the browser's session (requests with "X-Flores-Client: web").  Login and
# refresh put the refresh token in an HttpOnly, SameSite=Strict cookie scoped to /api/auth
# (never in the JSON body); refresh and logout take it from that cookie; each refresh rotates
# it; logout clears it; a rotated cookie presented again still revokes the whole session;
# without the header the cookie is ignored and API clients keep the JSON behaviour.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $WEB = { 'X-Flores-Client' => 'web' };
my $TOKEN = qr/[A-Za-z0-9_-]{43,}/;

sub web { my %h = (%$WEB, %{ $_[0] || {} }); return \%h }
sub cookie_hdr { return { Cookie => "flores_refresh=$_[0]" } }

# The flores_refresh cookie a response sets: {value, attrs (lower-case names => value)}.
sub set_cookie {
    my $res = shift;
    my $v = $res->{headers}{'set-cookie'};
    my @all = ref $v eq 'ARRAY' ? @$v : defined $v ? ($v) : ();
    my @ours = grep { /^flores_refresh=/ } @all;
    return undef unless @ours == 1;
    my ($pair, @attrs) = split /;\s*/, $ours[0];
    my %a = map { my ($k, $x) = split /=/, $_, 2; (lc $k => $x // 1) } @attrs;
    return { value => (split /=/, $pair, 2)[1], attrs => \%a, raw => $ours[0] };
}

my $u = register_user(name => 'Wanda Web', tag => 'webcookie');
my $login_body = { email => $u->{email}, password => $u->{password} };

# ---- login
my $res = api('POST', '/api/auth/login', $login_body, $WEB);
is($res->{status}, 200, 'web login: 200');
my $c1 = set_cookie($res);
ok($c1, 'web login sets the flores_refresh cookie') or diag(explain($res->{headers}));
$c1 ||= { value => '', attrs => {} };
like($c1->{value}, qr/^$TOKEN\z/, 'the cookie holds an opaque token');
is($c1->{attrs}{path}, '/api/auth', 'Path=/api/auth');
ok($c1->{attrs}{httponly}, 'HttpOnly');
is(lc($c1->{attrs}{samesite} // ''), 'strict', 'SameSite=Strict');
is($c1->{attrs}{'max-age'}, 604800, 'Max-Age: the refresh lifetime');
ok(!$c1->{attrs}{secure}, 'not Secure over plain HTTP');
ok(!exists $res->{json}{data}{refreshToken}, 'no refreshToken in the JSON body');
like($res->{json}{data}{token} // '', qr/^[^.]+\.[^.]+\.[^.]+\z/, 'an access token in the body');
is($res->{json}{data}{user}{id}, $u->{id}, 'and the user');
like(header($res, 'Cache-Control') // '', qr/no-store/, 'Cache-Control: no-store');

# ---- Secure behind HTTPS (a TLS-ending proxy says so)
$res = api('POST', '/api/auth/login', $login_body, web({ 'X-Forwarded-Proto' => 'https' }));
my $cs = set_cookie($res) || { attrs => {} };
ok($cs->{attrs}{secure}, 'Secure when the request came over HTTPS');

# ---- API clients: unchanged
$res = api('POST', '/api/auth/login', $login_body);
is($res->{status}, 200, 'API login: 200');
ok(!set_cookie($res), 'API login sets no cookie');
like($res->{json}{data}{refreshToken} // '', qr/^$TOKEN\z/, 'API login: refreshToken in the body');

# ---- refresh from the cookie rotates it
$res = api('POST', '/api/auth/refresh', {}, web(cookie_hdr($c1->{value})));
is($res->{status}, 200, 'web refresh with the cookie: 200');
my $c2 = set_cookie($res) || { value => '', attrs => {} };
like($c2->{value}, qr/^$TOKEN\z/, 'a new cookie');
isnt($c2->{value}, $c1->{value}, 'rotated');
ok(!exists $res->{json}{data}{refreshToken}, 'no refreshToken in the body');
my $t2 = $res->{json}{data}{token} // '';
is(api('GET', '/api/auth/me', undef, bearer($t2))->{status}, 200, 'the new access token works');

# ---- the cookie is ignored without the header
$res = api('POST', '/api/auth/refresh', {}, cookie_hdr($c2->{value}));
envelope_ok($res, 400, 'VALIDATION_ERROR', 'refresh with only the cookie, no header: 400 as before');
errors_fields_ok($res, ['refreshToken'], 'refreshToken is missing');
ok(!set_cookie($res), 'and no cookie is touched');

# ---- no cookie at all: 401, the cookie cleared
$res = api('POST', '/api/auth/refresh', {}, $WEB);
envelope_ok($res, 401, 'INVALID_REFRESH_TOKEN', 'web refresh without a cookie: 401');
my $clr = set_cookie($res) || { attrs => {} };
is($clr->{attrs}{'max-age'}, 0, 'clears the cookie (Max-Age=0)');

# ---- a malformed cookie
$res = api('POST', '/api/auth/refresh', {}, web({ Cookie => 'flores_refresh="<x>"' }));
envelope_ok($res, 401, 'INVALID_REFRESH_TOKEN', 'a malformed cookie: 401');

# ---- the body still wins when both are sent (a token of another session)
my $api_s = login_ok($u);
$res = api('POST', '/api/auth/refresh', { refreshToken => $api_s->{refreshToken} },
    web(cookie_hdr($c2->{value})));
is($res->{status}, 200, 'web refresh with a body token: 200');
my $c3b = set_cookie($res) || { value => '' };
isnt($c3b->{value}, $c2->{value}, 'the body token was rotated (the cookie is another session)');

# ---- other cookies around it
$res = api('POST', '/api/auth/refresh', {}, web({ Cookie => "a=1; flores_refresh=$c2->{value}; b=2" }));
is($res->{status}, 200, 'the cookie is found among others');
my $c3 = set_cookie($res) || { value => '' };

# ---- reuse of a rotated cookie revokes the session
$res = api('POST', '/api/auth/refresh', {}, web(cookie_hdr($c2->{value})));
envelope_ok($res, 401, 'INVALID_REFRESH_TOKEN', 'a rotated cookie presented again: 401');
$res = api('POST', '/api/auth/refresh', {}, web(cookie_hdr($c3->{value})));
envelope_ok($res, 401, 'INVALID_REFRESH_TOKEN', 'and the whole session is revoked (the newest cookie too)');

# ---- logout with the cookie ends the session and clears it
$res = api('POST', '/api/auth/login', $login_body, $WEB);
my $l = set_cookie($res) || { value => '' };
my $tok = $res->{json}{data}{token} // '';
$res = api('POST', '/api/auth/logout', {}, web({ %{ bearer($tok) }, %{ cookie_hdr($l->{value}) } }));
is($res->{status}, 200, 'web logout with the cookie: 200');
my $lc = set_cookie($res) || { attrs => {}, value => 'x' };
is($lc->{attrs}{'max-age'}, 0, 'logout clears the cookie');
is($lc->{value}, '', 'with an empty value');
is($lc->{attrs}{path}, '/api/auth', 'on the same path');
$res = api('POST', '/api/auth/refresh', {}, web(cookie_hdr($l->{value})));
envelope_ok($res, 401, 'INVALID_REFRESH_TOKEN', 'the logged-out cookie no longer refreshes');

# ---- web logout without a cookie: 200, nothing to end; API logout without a token: 400
$res = api('POST', '/api/auth/logout', {}, web(bearer($t2)));
is($res->{status}, 200, 'web logout without a cookie: 200');
$res = api('POST', '/api/auth/logout', {}, bearer($t2));
envelope_ok($res, 400, 'VALIDATION_ERROR', 'API logout without refreshToken: 400 as before');

# ---- logout-all clears the cookie of a browser
$res = api('POST', '/api/auth/login', $login_body, $WEB);
$tok = $res->{json}{data}{token} // '';
$res = api('POST', '/api/auth/logout-all', undef, web(bearer($tok)));
is($res->{status}, 200, 'web logout-all: 200');
is((set_cookie($res) || { attrs => {} })->{attrs}{'max-age'}, 0, 'logout-all clears the cookie');

# ---- a wrong password sets no cookie
$res = api('POST', '/api/auth/login', { email => $u->{email}, password => 'incorrecta1' }, $WEB);
envelope_ok($res, 401, 'INVALID_CREDENTIALS', 'web login with a wrong password: 401');
ok(!set_cookie($res), 'and no cookie');

done_testing();
