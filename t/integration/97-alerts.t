#!/usr/bin/perl
# 97-alerts.t: the stack's Prometheus loads the shipped alert rules
# (deploy/monitoring/flores-alerts.yml), and one of them fires for real: the auth service
# stops, five failed logins open its breaker, and FloresBreakerOpen goes pending, then firing
# once its production `for:` (1 min) has passed.  Then auth starts again, the breaker is
# reset and the alert goes away: the stack is left as it was found.

use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Test;
use Test::More;

my $PROM = $ENV{FLORES_PROMETHEUS_URL};
ok($PROM, "Prometheus of the stack: $PROM") or BAIL_OUT('FLORES_PROMETHEUS_URL not set');

# The alerts named NAME as Prometheus lists them: [{labels, state, ...}].
sub alerts_named {
    my ($name) = @_;
    my $r = api('GET', "$PROM/api/v1/alerts");
    return [] unless $r->{status} == 200 && ref $r->{json} eq 'HASH';
    return [grep { ($_->{labels}{alertname} // '') eq $name } @{ $r->{json}{data}{alerts} // [] }];
}

sub breaker_alert {
    my ($service) = @_;
    my ($a) = grep { ($_->{labels}{service} // '') eq $service } @{ alerts_named('FloresBreakerOpen') };
    return $a;
}

sub breaker_state {
    my ($name) = @_;
    my $r = internal_api('GET', '/breakers');
    my $d = ref $r->{json} eq 'HASH' ? $r->{json}{data} : undef;
    my @list = ref $d eq 'ARRAY' ? @$d : ref $d eq 'HASH' && ref $d->{breakers} eq 'ARRAY' ? @{ $d->{breakers} } : ();
    my ($b) = grep { ($_->{service} // '') eq $name } @list;
    return $b ? $b->{state} : '';
}

# ---- the rules are loaded ---------------------------------------------------------------------

my $rules = api('GET', "$PROM/api/v1/rules");
is($rules->{status}, 200, '/api/v1/rules answers');
my %rule;
for my $g (@{ $rules->{json}{data}{groups} // [] }) {
    $rule{$_->{name}} = $_ for @{ $g->{rules} // [] };
}
for my $name (qw(FloresBreakerOpen FloresHigh5xxRatio FloresRateLimitRejectionSpike
                 FloresOutboxBacklog FloresMailDeadLetters FloresStoreDown)) {
    ok($rule{$name}, "rule $name loaded");
    is($rule{$name}{health} // '', 'ok', "  ... and evaluates") if $rule{$name};
}
is($rule{FloresBreakerOpen}{duration}, 60, 'FloresBreakerOpen: for 1m, as shipped');

# ---- a breaker trips ------------------------------------------------------------------------

is(breaker_state('auth'), 'closed', 'the auth breaker is closed to begin with');
ok(wait_for(30, sub { !breaker_alert('auth') }, 1), 'no FloresBreakerOpen for auth to begin with');

my $user = register_user(name => 'Alba Alerta', tag => 'alerts');
is(stop_component('auth')->{rc}, 0, './flores stop auth');

# The critical profile: five consecutive failures open it.
for my $i (1 .. 5) {
    my $r = api('POST', '/api/auth/login', { email => $user->{email}, password => $user->{password} });
    is($r->{status}, 503, "login $i while auth is down: 503");
}
is(breaker_state('auth'), 'open', 'the auth breaker is open');

my $t0 = now_ms();
my $pending = wait_for(30, sub { my $a = breaker_alert('auth'); $a && $a->{state} =~ /^(pending|firing)$/ }, 1);
ok($pending, 'FloresBreakerOpen{service="auth"} is pending within one scrape and evaluation');

# Firing once `for: 1m` has passed.  The breaker swings to half-open after 30 s; a half-open
# breaker counts as not closed, so the alert keeps going.
my $firing = wait_for(120, sub { my $a = breaker_alert('auth'); $a && $a->{state} eq 'firing' }, 2);
my $took = (now_ms() - $t0) / 1000;
ok($firing, sprintf('FloresBreakerOpen{service="auth"} fires (after %.0f s)', $took));
cmp_ok($took, '>=', 50, '  ... not before its for: duration');
my $a = breaker_alert('auth');
is($a->{labels}{severity}, 'critical', '  ... severity critical') if $a;
like($a->{annotations}{summary} // '', qr/auth/, '  ... the summary names the service') if $a;

# ---- back as it was ---------------------------------------------------------------------------

is(start_component('auth')->{rc}, 0, './flores start auth');
my $reset = internal_api('POST', '/breakers?reset=auth');
is($reset->{status}, 200, 'the auth breaker is reset');
is(breaker_state('auth'), 'closed', 'the auth breaker is closed');
ok(wait_for(30, sub { !breaker_alert('auth') }, 1), 'FloresBreakerOpen for auth is gone');
my $ok = api('POST', '/api/auth/login', { email => $user->{email}, password => $user->{password} });
is($ok->{status}, 200, 'login works again');

done_testing();
