#!/usr/bin/perl
# 55-monitoring-files.t: the shipped alert rules (conf/prometheus/flores.rules.yml) and the
# Grafana dashboard (deploy/monitoring/flores-dashboard.json), checked offline:
#   - promtool check rules; promtool test rules with t/deploy/data/flores.rules.test.yml (each
#     alert fires on made-up series after its `for:`, not before, with its annotations);
#   - conf/prometheus.yml, rendered, passes promtool check config and finds the rule file; so
#     does deploy/monitoring/prometheus-kubernetes.yml (pod discovery swapped for a target);
#   - every alert has a severity, a summary, a description and a runbook link to a section of
#     docs/monitoring.md that exists;
#   - the dashboard is well-formed Grafana JSON (unique panel ids, a datasource and queries on
#     every panel) and every query is valid PromQL (promtool checks them as recording rules);
#   - every metric and label the rules and the dashboard use is one the gateway or a service
#     exports (t/deploy/data/metric-families.txt, read from a running stack), and every family
#     there is still named in the sources.
# promtool comes from run/opt/prometheus (./flores installs it); fetched from Debian's
# prometheus package when missing.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Flores::Run qw(run slurp);
use Cwd qw(abs_path);
use File::Temp ();
use File::Path qw(make_path);
use File::Copy qw(copy);
use JSON::PP ();
use Test::More;

my $ROOT  = abs_path("$FindBin::Bin/../..");
my $RULES = "$ROOT/conf/prometheus/flores.rules.yml";
my $DASH  = "$ROOT/deploy/monitoring/flores-dashboard.json";
my $DATA  = "$ROOT/t/deploy/data";
my $OPT   = "$ROOT/run/opt";
my $PROMTOOL = "$OPT/prometheus/usr/bin/promtool";
$ENV{LC_ALL} = 'C';

sub spew  { my ($f, $t) = @_; open my $fh, '>', $f or die "$f: $!"; print {$fh} $t; close $fh or die }

# ---- promtool -------------------------------------------------------------------------------

if (!-x $PROMTOOL) {
    # As ./flores does: the binaries of Debian's package, unpacked, not installed.
    make_path($OPT);
    my $tmp = File::Temp->newdir(DIR => $OPT);
    my $r = run(['apt-get', 'download', '-qq', 'prometheus'], cwd => "$tmp", timeout => 600);
    diag($r->{text}) if $r->{rc} != 0;
    my ($deb) = glob("$tmp/prometheus_*.deb");
    if ($deb && run(['dpkg-deb', '-x', $deb, "$tmp/root"])->{rc} == 0 && !-x $PROMTOOL) {
        make_path("$OPT/prometheus/usr/bin");
        for my $b (qw(prometheus promtool)) {
            rename("$tmp/root/usr/bin/$b", "$OPT/prometheus/usr/bin/$b") or diag("$b: $!");
        }
    }
}
ok(-x $PROMTOOL, "promtool ($PROMTOOL)") or BAIL_OUT('no promtool');

# ---- the rules ------------------------------------------------------------------------------

my $r = run([$PROMTOOL, 'check', 'rules', $RULES]);
is($r->{rc}, 0, 'promtool check rules conf/prometheus/flores.rules.yml') or diag($r->{text});
like($r->{text}, qr/SUCCESS: (\d+) rules found/, '  ... SUCCESS');

{
    my $t = File::Temp->newdir;
    copy($RULES, "$t/flores.rules.yml") or die;
    copy("$DATA/flores.rules.test.yml", "$t/flores.rules.test.yml") or die;
    $r = run([$PROMTOOL, 'test', 'rules', 'flores.rules.test.yml'], cwd => "$t");
    is($r->{rc}, 0, 'promtool test rules: every alert fires when and as it should') or diag($r->{text});
}

# A rule file that does not parse is refused (the check can fail).
{
    my $t = File::Temp->newdir;
    spew("$t/bad.rules.yml", "groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: sum(rate(flores_gateway_requests_total[5m])\n");
    $r = run([$PROMTOOL, 'check', 'rules', "$t/bad.rules.yml"]);
    isnt($r->{rc}, 0, 'promtool check rules refuses a broken expression');
}

# conf/prometheus.yml as ./flores renders it, the rules beside it.
{
    my $t = File::Temp->newdir;
    my $conf = slurp("$ROOT/conf/prometheus.yml");
    $conf =~ s/\@INTERNAL_PORT\@/27081/g;
    $conf =~ s/\@PROMETHEUS_PORT\@/27090/g;
    $conf =~ s/\@STACK_DIR\@/$t/g;
    unlike($conf, qr/\@[A-Z_]+\@/, 'conf/prometheus.yml: no other placeholder');
    spew("$t/prometheus.yml", $conf);
    copy($RULES, "$t/flores.rules.yml") or die;
    $r = run([$PROMTOOL, 'check', 'config', "$t/prometheus.yml"]);
    is($r->{rc}, 0, 'promtool check config: the stack configuration') or diag($r->{text});
    like($r->{text}, qr/SUCCESS: 1 rule files found/, '  ... loads the rule file');
}

# The Kubernetes scrape configuration.  Debian's Prometheus is built without Kubernetes service
# discovery: its kubernetes_sd_configs blocks are swapped for a static target, and the rest
# (jobs, relabelling, rule files) is checked.
{
    my $t = File::Temp->newdir;
    my $conf = slurp("$ROOT/deploy/monitoring/prometheus-kubernetes.yml");
    my $n = ($conf =~ s/    kubernetes_sd_configs:\n      - role: pod\n        namespaces: \{names: \[flores-victoria\]\}\n/    static_configs:\n      - targets: ['placeholder:8081']\n/g);
    is($n, 2, 'prometheus-kubernetes.yml: two jobs discover pods in flores-victoria');
    like($conf, qr/job_name: gateway\b.*job_name: services\b/s, '  ... the jobs gateway and services');
    like($conf, qr{replacement: /pods/\$\{1\}/metrics}, '  ... services scraped per pod through /pods/<address>/metrics');
    spew("$t/prometheus.yml", $conf);
    copy($RULES, "$t/flores.rules.yml") or die;
    $r = run([$PROMTOOL, 'check', 'config', "$t/prometheus.yml"]);
    is($r->{rc}, 0, 'promtool check config: the Kubernetes scrape configuration') or diag($r->{text});
}

# The rules, read through promtool's own parser would need Go; the file is plain YAML of a
# known shape, read here line by line.
my (@alerts, $cur, $in_ann, $in_labels);
for my $line (split /\n/, slurp($RULES)) {
    if ($line =~ /^\s+- alert: (\S+)/) {
        $cur = { name => $1, expr => '', labels => {}, ann => {} };
        push @alerts, $cur;
        ($in_ann, $in_labels) = (0, 0);
        next;
    }
    next unless $cur;
    if ($line =~ /^ {8}(\w+):\s*(.*)$/) {
        my ($k, $v) = ($1, $2);
        ($in_ann, $in_labels) = ($k eq 'annotations', $k eq 'labels');
        $cur->{$k} = $v if $k eq 'for';
        $cur->{expr} = $v eq '|' ? '' : $v if $k eq 'expr';
        $cur->{in_expr} = $k eq 'expr';
        next;
    }
    if ($cur->{in_expr} && $line =~ /^ {10}(.*)$/) { $cur->{expr} .= " $1"; next }
    if (($in_ann || $in_labels) && $line =~ /^ {10}(\w+):\s*(.*)$/) {
        ($in_ann ? $cur->{ann} : $cur->{labels})->{$1} = $2;
    }
}
my %want = map { $_ => 1 } qw(FloresBreakerOpen FloresHigh5xxRatio FloresRateLimitRejectionSpike
                              FloresOutboxBacklog FloresMailDeadLetters FloresStoreDown);
is(scalar(grep { $want{$_->{name}} } @alerts), scalar(keys %want),
   'the rules cover breaker open, 5xx ratio, rate-limit spike, outbox backlog, mail dead letters, store down');

my $doc = -f "$ROOT/docs/monitoring.md" ? slurp("$ROOT/docs/monitoring.md") : '';
ok($doc ne '', 'docs/monitoring.md exists');
my %anchor = map { (lc($_) =~ s/[^a-z0-9 -]//gr =~ s/ /-/gr) => 1 } ($doc =~ /^#+\s+(.+?)\s*$/mg);
for my $a (@alerts) {
    like($a->{labels}{severity} // '', qr/^(critical|warning)$/, "$a->{name}: severity");
    ok(($a->{ann}{summary} // '') ne '' && exists $a->{ann}{description}, "$a->{name}: summary and description");
    my ($frag) = ($a->{ann}{runbook} // '') =~ m{^docs/monitoring\.md#(\S+)$};
    ok($frag && $anchor{$frag}, "$a->{name}: runbook docs/monitoring.md#" . ($frag // '?') . ' exists');
}

# ---- the dashboard --------------------------------------------------------------------------

my $dash = eval { JSON::PP->new->decode(slurp($DASH)) };
ok(ref $dash eq 'HASH', 'the dashboard is JSON') or diag($@);
$dash //= {};
is($dash->{uid}, 'flores-victoria', 'dashboard uid');
ok($dash->{title} && $dash->{schemaVersion}, 'title and schemaVersion');
my ($dsvar) = grep { $_->{type} eq 'datasource' } @{ $dash->{templating}{list} // [] };
ok($dsvar && $dsvar->{query} eq 'prometheus', 'a Prometheus datasource variable');

my (%ids, @queries, %titles);
my @panels = map { ($_, @{ $_->{panels} // [] }) } @{ $dash->{panels} // [] };
for my $p (@panels) {
    ok(!$ids{$p->{id}}++, "panel id $p->{id} unique");
    my $g = $p->{gridPos} // {};
    ok(defined $g->{x} && defined $g->{y} && $g->{w} && $g->{h} && $g->{x} + $g->{w} <= 24,
       "panel $p->{id}: gridPos inside the 24 columns");
    next if $p->{type} eq 'row';
    $titles{$p->{title}} = 1;
    is($p->{datasource}{uid} // '', '${datasource}', "\"$p->{title}\": the datasource variable");
    ok(@{ $p->{targets} // [] } > 0, "\"$p->{title}\": has queries");
    push @queries, map { [$p->{title}, $_->{expr}] } @{ $p->{targets} // [] };
}
for my $t ('Requests/s by status class', 'Requests/s by service', 'Latency p50 / p95 / p99 (whole request)',
           'Rate-limit rejections/s by zone', 'Circuit breakers', 'JWT rejections/s by reason',
           'Service requests/s by status', 'Service errors/s (5xx)', 'Store errors/s', 'Outbox backlog',
           'Consumers: retries and dead letters', 'Mail sent / failed / given up') {
    ok($titles{$t}, "dashboard panel \"$t\"");
}

# Every query is PromQL promtool accepts (as a recording rule; Grafana's variables filled in).
{
    my $t = File::Temp->newdir;
    my $y = "groups:\n  - name: dashboard\n    rules:\n";
    my $n = 0;
    for my $q (@queries) {
        my $e = $q->[1] =~ s/\$__rate_interval/5m/gr =~ s/\$service/.*/gr;
        $e =~ s/'/''/g;
        $y .= sprintf("      - record: dashboard:q%d\n        expr: '%s'\n", ++$n, $e);
    }
    spew("$t/dash.rules.yml", $y);
    $r = run([$PROMTOOL, 'check', 'rules', "$t/dash.rules.yml"]);
    is($r->{rc}, 0, "every dashboard query ($n) is valid PromQL") or diag($r->{text});
}

# ---- metric names and labels ------------------------------------------------------------------

my (%family, %labels);
for my $line (split /\n/, slurp("$DATA/metric-families.txt")) {
    $family{$1} = $2 if $line =~ /^# TYPE (\S+) (\S+)/;
    $labels{$1} = { map { $_ => 1 } split /,/, $2 } if $line =~ /^# LABELS (\S+) (\S+)/;
}
ok(keys %family >= 15, scalar(keys %family) . ' metric families in the fixture');

my $sources = join '', map { slurp($_) } glob("$ROOT/nginx-module/*.c"), glob("$ROOT/lib/*.c");
for my $f (sort keys %family) {
    ok(index($sources, $f) >= 0, "$f is still named in nginx-module/ or lib/");
}

# The metric a series name belongs to (histograms: _bucket/_sum/_count of the family).
sub family_of {
    my ($name) = @_;
    return $name if $family{$name};
    my $base = $name =~ s/_(bucket|sum|count)$//r;
    return $base if ($family{$base} // '') eq 'histogram';
    return undef;
}

my @uses = ((map { ["rule $_->{name}", $_->{expr}] } @alerts), (map { ["panel \"$_->[0]\"", $_->[1]] } @queries));
my %scrape = map { $_ => 1 } qw(job instance);
my %used;
for my $u (@uses) {
    my ($where, $expr) = @$u;
    my %in_expr = %scrape;
    while ($expr =~ /\b(flores_[a-z_]+|up)\b(\{([^}]*)\})?/g) {
        my ($name, $sel) = ($1, $3 // '');
        my $f = $name eq 'up' ? 'up' : family_of($name);
        ok($f, "$where: $name is exported") or next;
        $used{$f} = 1;
        my %ok = (%scrape, ($f eq 'up' ? (service => 1) : %{ $labels{$f} // {} }),
                  (($family{$f} // '') eq 'histogram' && $name =~ /_bucket$/ ? (le => 1) : ()));
        %in_expr = (%in_expr, %ok);
        while ($sel =~ /(\w+)\s*(?:=~|!~|!=|=)/g) {
            ok($ok{$1}, "$where: $name has the label $1");
        }
    }
    while ($expr =~ /\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g) {
        for my $l (grep { length } map { s/\s+//gr } split /,/, $1) {
            ok($in_expr{$l}, "$where: grouping label $l exists");
        }
    }
}
for my $f (qw(flores_gateway_requests_total flores_gateway_request_duration_seconds
              flores_gateway_ratelimit_rejections_total flores_gateway_breaker_state
              flores_gateway_jwt_rejections_total flores_http_requests_total
              flores_store_errors_total flores_outbox_pending flores_events_consumed_total)) {
    ok($used{$f}, "$f is shown or alerted on");
}

done_testing();
