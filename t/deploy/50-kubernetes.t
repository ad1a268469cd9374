#!/usr/bin/perl
# 50-kubernetes.t: the Kustomize base and the production overlay under deploy/kubernetes/.
# No cluster: each is rendered offline with kubectl kustomize, by Debian 12's kubectl 1.20
# (kustomize v2, unpacked from its .deb into run/opt/kubernetes-client) and, when there is one,
# by the kubectl on PATH (kustomize v5); both renderings must hold the same objects.  Every object is
# validated against the Kubernetes schemas and the platform's own rules by
# tools/k8s-validate (npm packages installed from its package-lock.json when missing), and the
# validator is shown to reject broken manifests (t/deploy/data/k8s-broken/).  The gateway's
# Kubernetes nginx files must be up to date with conf/nginx/, pass `nginx -t` with the module,
# and serve: nginx with them and two services run in a network namespace made here (the pod
# network), removed at the end with everything started in it.

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
use POSIX ();
use Digest::SHA ();
use MIME::Base64 ();
use Test::More;

my $ROOT = abs_path("$FindBin::Bin/../..");
my $K8S  = "$ROOT/deploy/kubernetes";
my $VAL  = "$ROOT/tools/k8s-validate";
my $OPT  = "$ROOT/run/opt";
$ENV{LC_ALL} = 'C';

sub spew  { my ($f, $t) = @_; open my $fh, '>', $f or die "$f: $!"; print {$fh} $t; close $fh or die }

# ---- tools ----------------------------------------------------------------------------------

# The validator's npm packages, from the committed lock file.
if (!-d "$VAL/node_modules/kubernetes-models" || !-d "$VAL/node_modules/yaml") {
    my $r = run(['npm', 'ci', '--no-audit', '--no-fund', '--loglevel=error'], cwd => $VAL,
                timeout => 600);
    diag($r->{out} . $r->{err}) if $r->{rc} != 0;
}
ok(-d "$VAL/node_modules/kubernetes-models", 'k8s-validate: npm packages installed')
    or BAIL_OUT('tools/k8s-validate: npm ci failed');

# kubectl with kustomize v5: the one on PATH, if any (not a Debian 12 package).
my $kubectl = run(['sh', '-c', 'command -v kubectl'])->{out};
chomp $kubectl;
diag($kubectl ne '' ? "kubectl on PATH: $kubectl" : 'no kubectl on PATH: kustomize v2 only');

# kubectl 1.20 (kustomize v2) from Debian's kubernetes-client, unpacked, not installed.
my $old = "$OPT/kubernetes-client/usr/bin/kubectl";
if (!-x $old) {
    my $tmp = File::Temp->newdir(DIR => (-d $OPT ? $OPT : undef));
    my $r = run(['apt-get', 'download', '-qq', 'kubernetes-client'], cwd => "$tmp",
                timeout => 600);
    diag($r->{out} . $r->{err}) if $r->{rc} != 0;
    my ($deb) = glob("$tmp/kubernetes-client_*.deb");
    if ($deb) {
        make_path($OPT);
        $r = run(['dpkg-deb', '-x', $deb, "$OPT/kubernetes-client"]);
        diag($r->{err}) if $r->{rc} != 0;
    }
}
ok(-x $old, 'kubectl 1.20 of kubernetes-client unpacked') or BAIL_OUT('no kubectl 1.20');

# The renderers, the first one's output is the one examined below.
my @renderers = (['v2', $old]);
unshift @renderers, ['v5', $kubectl] if $kubectl ne '';
my $main = $renderers[0][0];
my %version;
for my $k (@renderers) {
    my $r = run([$k->[1], 'version', '--client']);
    $version{$k->[0]} = $r->{out};
}
like($version{v5}, qr/Kustomize Version: v5\./, 'kubectl on PATH embeds kustomize v5') if $version{v5};
like($version{v2}, qr/GitVersion:"v1\.20\./, 'Debian 12 kubectl is 1.20 (kustomize v2)');

# ---- the broken manifests: the validator must say no ----------------------------------------

my $data = "$ROOT/t/deploy/data/k8s-broken";
my %fault = (
    'schema-wrong-type.yaml'    => qr{Service/web: schema: /spec/ports/0/port must be integer},
    'schema-missing-field.yaml' => qr{Service/web: schema: .*required property port},
    'unknown-kind.yaml'         => qr{unknown apiVersion/kind apps/v1/Deploymnet},
    'hpa-missing-target.yaml'   => qr{scaleTargetRef Deployment/webb does not exist},
    'netpol-no-pods.yaml'       => qr{NetworkPolicy/web: podSelector finds no pods},
    'missing-configmap.yaml'    => qr{ConfigMap web-env does not exist},
    'deployment-rules.yaml'     => qr{(?s)no readinessProbe.*no livenessProbe.*no memory requests.*no cpu limits.*runAsNonRoot is not true.*allowPrivilegeEscalation is not false.*capabilities do not drop ALL.*no seccompProfile RuntimeDefault},
);
{
    my $r = run(["$VAL/k8s-validate.mjs", "$data/ok.yaml"]);
    is($r->{rc}, 0, 'validator: the control manifest passes') or diag($r->{err});
}
for my $f (sort keys %fault) {
    my $r = run(["$VAL/k8s-validate.mjs", "$data/$f"]);
    is($r->{rc}, 1, "validator rejects $f");
    like($r->{err}, $fault{$f}, "  ... and says why") or diag($r->{err});
}

# ---- render -----------------------------------------------------------------------------------

# A copy of deploy/kubernetes with throw-away secrets: the overlay needs the files.
my $work = File::Temp->newdir;
{
    my $r = run(['cp', '-a', $K8S, "$work/kubernetes"]);
    is($r->{rc}, 0, 'deploy/kubernetes copied');
    run(['find', "$work/kubernetes/overlays/production/secrets", '-mindepth', '1',
         '!', '-name', 'README.md', '!', '-name', '.gitignore', '-delete']);
}
my $prod = "$work/kubernetes/overlays/production";

{
    my $r = run([$renderers[0][1], 'kustomize', $prod]);
    isnt($r->{rc}, 0, 'production overlay without its secret files does not render');
    like($r->{err}, qr/gateway\.key|pg-password|amqp-url|redis-url/, '  ... naming the missing file');
}
# The files as flores-provision makes them (the tool the overlay's README names).
{
    my @p = ("$ROOT/deploy/flores-provision.in", '-s', "$prod/secrets", '-g', '');
    my $r = run(['bash', @p, '--amqp', 'flores-rabbitmq:5672', '--redis', 'flores-redis:6379', 'secrets']);
    is($r->{rc}, 0, 'flores-provision secrets: the per-service credentials') or diag($r->{err});
    $r = run(['bash', @p, '-c', "$work/no-conf", 'gateway-key']);
    is($r->{rc}, 0, 'flores-provision gateway-key') or diag($r->{err});
    like(slurp("$prod/secrets/gateway.key"), qr/^[0-9a-f]{64}$/, '  ... 64 hex characters');
    like(slurp("$prod/secrets/order/amqp-url"), qr{^amqp://flores-order:[0-9a-f]{32}\@flores-rabbitmq:5672/$},
         '  ... order\'s own RabbitMQ user');
    like(slurp("$prod/secrets/cart/redis-url"), qr{^redis://flores-cart:[0-9a-f]{32}\@flores-redis:6379/0$},
         '  ... cart\'s own Redis user');
}

my %rendered;
for my $dir (['base', "$work/kubernetes/base"], ['production', $prod]) {
    for my $k (@renderers) {
        my $r = run([$k->[1], 'kustomize', $dir->[1]]);
        is($r->{rc}, 0, "$dir->[0] renders with kustomize $k->[0]") or diag($r->{err});
        $rendered{$dir->[0]}{$k->[0]} = $r->{out};
    }
}

# Same objects from both: kind/namespace/name (generated names without their hash suffix).
sub objects_of {
    my ($yaml) = @_;
    my $r = run(['node', '--input-type=module', '-e', <<'JS'], input => $yaml, cwd => $VAL);
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
const out = [];
for (const d of parseAllDocuments(readFileSync(0, 'utf8'))) {
    const o = d.toJS();
    if (!o) continue;
    out.push(`${o.kind} ${o.metadata.namespace ?? '-'} ${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`);
}
console.log(JSON.stringify(out.sort()));
JS
    return $r->{out};
}
for my $d (qw(base production)) {
    last if @renderers < 2;
    my ($a, $b) = map { objects_of($rendered{$d}{$_}) } qw(v5 v2);
    ok(length $a > 10 && $a eq $b, "$d: kustomize v2 and v5 render the same objects");
}

# ---- validate -------------------------------------------------------------------------------

{
    my $r = run(["$VAL/k8s-validate.mjs", '--allow-missing-secret', 'flores-secrets',
                 '--allow-missing-secret', 'flores-jwt-keys', '--allow-missing-secret', 'flores-jwks', '-'],
                input => $rendered{base}{$main});
    is($r->{rc}, 0, "base: valid ($r->{out})") or diag($r->{err});
}
for my $k (map { $_->[0] } @renderers) {
    my $r = run(["$VAL/k8s-validate.mjs", '--allow-missing-secret', 'flores-tls',
                 '--allow-missing-secret', 'flores-jwt-keys', '--allow-missing-secret', 'flores-jwks', '-'],
                input => $rendered{production}{$k});
    chomp(my $summary = $r->{out});
    is($r->{rc}, 0, "production ($k): valid, $summary") or diag($r->{err});
}

# The stores' side (another namespace, applied on its own): schema-valid; its pods are the
# stores', not in this stream.
{
    my $r = run(["$VAL/k8s-validate.mjs", "$K8S/stores-networkpolicy.yaml"]);
    my @other = grep { !/podSelector finds no pods/ } grep { /^k8s-validate:/ } split /\n/, $r->{err};
    like($r->{out}, qr/^5 objects \(5 NetworkPolicy\)/, 'stores-networkpolicy.yaml: a policy per store');
    is_deeply(\@other, [], '  ... schema-valid') or diag($r->{err});
    my $text = slurp("$K8S/stores-networkpolicy.yaml");
    my %from = $text =~ /matchLabels: \{app\.kubernetes\.io\/name: (\w+)\}\n.*?values: \[([^\]]*)\]/sg;
    is_deeply(\%from, {
        postgresql => 'flores-auth, flores-user, flores-order, flores-review, flores-contact, flores-migrate',
        rabbitmq   => 'flores-auth, flores-product, flores-user, flores-order, flores-review, flores-contact',
        redis      => 'flores-cart, flores-wishlist',
        mongodb    => 'flores-product',
        smtp       => 'flores-contact',
    }, '  ... each store reachable from the services that use it only');
}

# The platform's shape, read from the production rendering.
my $facts = run(['node', '--input-type=module', '-e', <<'JS'], input => $rendered{production}{$main}, cwd => $VAL)->{out};
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
const objs = parseAllDocuments(readFileSync(0, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const f = {};
const by = (k) => objs.filter((o) => o.kind === k);
f.namespaces = [...new Set(objs.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace))];
f.jobs = by('Job').map((j) => [j.metadata.name, j.spec.template.spec.containers[0].args.join(' ')]);
f.deployments = Object.fromEntries(by('Deployment').map((d) => [d.metadata.name, {
    replicas: d.spec.replicas,
    images: d.spec.template.spec.containers.map((c) => c.image),
    readiness: d.spec.template.spec.containers.map((c) => Object.keys(c.readinessProbe)
        .filter((k) => ['httpGet', 'exec', 'tcpSocket'].includes(k))[0]),
    path: d.spec.template.spec.containers[0].readinessProbe.httpGet?.path
        ?? d.spec.template.spec.containers[0].readinessProbe.exec?.command.join(' '),
}]));
f.hpa = Object.fromEntries(by('HorizontalPodAutoscaler').map((h) => [h.spec.scaleTargetRef.name,
    [h.apiVersion, h.spec.minReplicas, h.spec.maxReplicas]]));
f.pdb = by('PodDisruptionBudget').map((p) => p.metadata.name).sort();
const np = Object.fromEntries(by('NetworkPolicy').map((n) => [n.metadata.name, n]));
f.defaultDeny = !!Object.values(np).find((n) => Object.keys(n.spec.podSelector).length === 0
    && n.spec.policyTypes.includes('Ingress') && n.spec.policyTypes.includes('Egress')
    && !n.spec.ingress && !n.spec.egress);
f.egress = Object.fromEntries(Object.values(np).filter((n) => /-egress$/.test(n.metadata.name))
    .map((n) => [n.metadata.name.replace(/^flores-|-egress$/g, ''), n.spec.egress.map((r) =>
        r.to.map((p) => p.podSelector.matchLabels['app.kubernetes.io/name']).join(',')
        + ':' + r.ports.map((p) => p.port).join(',')).sort()]));
f.servicesIngress = np['flores-services-ingress'].spec.ingress.map((r) =>
    r.from.map((p) => p.podSelector.matchLabels['app.kubernetes.io/name']).join(',')
    + ':' + r.ports.map((p) => p.port).join(','));
f.tls = by('Ingress').map((i) => i.spec.tls.map((t) => t.secretName)).flat();
f.secrets = by('Secret').map((s) => Object.keys(s.data).sort().join(','));
// Which items of flores-secrets each pod mounts, and the gateway's ports.
f.mounted = Object.fromEntries([...by('Deployment'), ...by('Job')].map((d) => [d.metadata.name,
    (d.spec.template.spec.volumes ?? []).filter((v) => v.secret && /^flores-secrets/.test(v.secret.secretName))
        .flatMap((v) => (v.secret.items ?? [{ key: '*' }]).map((i) => i.key)).sort()]));
f.otherSecrets = Object.fromEntries([...by('Deployment'), ...by('Job')].map((d) => [d.metadata.name,
    (d.spec.template.spec.volumes ?? []).filter((v) => v.secret && !/^flores-secrets/.test(v.secret.secretName))
        .map((v) => v.secret.secretName).sort()]));
f.gatewayIngress = np['flores-gateway'].spec.ingress.map((r) =>
    (r.from ?? []).map((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name']
        ?? p.podSelector?.matchLabels?.['app.kubernetes.io/component'] ?? '*').join(',')
    + ':' + r.ports.map((p) => p.port).join(','));
f.externalName = by('Service').filter((s) => s.spec.type === 'ExternalName').map((s) => s.metadata.name).sort();
console.log(JSON.stringify(f));
JS
my $f = eval { JSON::PP->new->decode($facts) };
ok($f, 'production facts read') or diag($facts);
$f //= {};

is_deeply($f->{namespaces}, ['flores-victoria'], 'production: every object in namespace flores-victoria');
my @svc = qw(auth product user order cart wishlist review contact);
is_deeply([sort keys %{ $f->{deployments} }], [sort map { "flores-$_" } 'gateway', @svc],
          'production: a Deployment for the gateway and each of the eight services');
for my $name (sort keys %{ $f->{deployments} }) {
    my $d = $f->{deployments}{$name};
    if ($f->{hpa}{$name}) {
        ok(!defined $d->{replicas}, "production: $name has no replicas of its own (its HPA's)");
        cmp_ok($f->{hpa}{$name}[1], '>=', 2, "production: $name runs at least $f->{hpa}{$name}[1] replicas");
    } else {
        cmp_ok($d->{replicas} // 0, '>=', 2, "production: $name runs " . ($d->{replicas} // 0) . ' replicas');
    }
    for my $img (@{ $d->{images} }) {
        like($img, qr{^registry\.example\.com/flores/(gateway|services):1\.0\.0$},
             "production: $name image pinned ($img)");
    }
}
is_deeply($f->{jobs}, [['flores-migrate', 'migrate']], 'the migrations: a Job running the image\'s migrate');
is_deeply($f->{egress}{migrate}, ['postgresql:5432'], 'migrate: egress to PostgreSQL only');
is($f->{deployments}{'flores-gateway'}{readiness}[0], 'httpGet', 'gateway: HTTP readiness probe');
is($f->{deployments}{'flores-gateway'}{path}, '/health', '  ... on /health (internal listener)');
for my $s (@svc) {
    is($f->{deployments}{"flores-$s"}{path} // '', 'flores-container health',
       "$s: readiness is its own /health over FastCGI (the image's flores-container health)");
}
is_deeply([sort keys %{ $f->{hpa} }], [sort map { "flores-$_" } qw(gateway product cart order)],
          'HPAs for the gateway, product, cart and order');
for my $h (sort keys %{ $f->{hpa} }) {
    my ($api, $min, $max) = @{ $f->{hpa}{$h} };
    is($api, 'autoscaling/v2', "$h: autoscaling/v2");
    ok($min >= 2 && $max > $min, "$h: production bounds $min..$max");
}
is_deeply($f->{pdb}, [sort map { "flores-$_" } 'gateway', @svc], 'a PodDisruptionBudget for each');
ok($f->{defaultDeny}, 'NetworkPolicy: default deny (ingress and egress)');
is_deeply($f->{servicesIngress}, ['flores-gateway:9000'], 'services: reachable from the gateway only');
is_deeply($f->{gatewayIngress}, [':8080', 'prometheus:8081', 'service:8082'],
          'gateway: public API from anyone, the read-only listener from Prometheus, the internal API passage from the services');
my %stores = (
    auth     => ['flores-gateway:8082', 'postgresql:5432', 'rabbitmq:5672'],
    user     => ['postgresql:5432', 'rabbitmq:5672'],
    order    => ['flores-gateway:8082', 'postgresql:5432', 'rabbitmq:5672'],
    review   => ['flores-gateway:8082', 'postgresql:5432', 'rabbitmq:5672'],
    product  => ['mongodb:27017', 'rabbitmq:5672'],
    cart     => ['flores-gateway:8082', 'redis:6379'],
    wishlist => ['flores-gateway:8082', 'redis:6379'],
    contact  => ['postgresql:5432', 'rabbitmq:5672', 'smtp:25'],
);
for my $s (@svc) {
    is_deeply($f->{egress}{$s}, $stores{$s}, "$s: egress to @{ $stores{$s} } only");
}
is_deeply($f->{tls}, ['flores-tls'], 'Ingress: TLS from the Secret flores-tls');
my %uses = (
    auth => [qw(pg amqp)], user => [qw(pg amqp)], order => [qw(pg amqp)], review => [qw(pg amqp)],
    contact => [qw(pg amqp)], product => ['amqp'], cart => ['redis'], wishlist => ['redis'],
);
my %file = (pg => 'pg-password', amqp => 'amqp-url', redis => 'redis-url');
my @keys = sort 'gateway-key', map { my $s = $_; map { "$s-$file{$_}" } @{ $uses{$s} } } keys %uses;
is_deeply($f->{secrets}, [join ',', @keys], 'Secret flores-secrets: the gateway key and each service\'s own credentials');
for my $s (@svc) {
    is_deeply($f->{mounted}{"flores-$s"}, [sort 'gateway-key', map { "$s-$file{$_}" } @{ $uses{$s} }],
              "$s: mounts the gateway key and its own credentials, nothing of the others'");
}
is_deeply($f->{mounted}{'flores-gateway'}, ['gateway-key'], 'gateway: the gateway key only');
is_deeply($f->{mounted}{'flores-migrate'}, [sort map { "$_-pg-password" } qw(auth user order review contact)],
          'migrate: the services\' database passwords (each migrates as its own role)');
is_deeply($f->{otherSecrets}{'flores-auth'}, ['flores-jwks', 'flores-jwt-keys'], 'auth: the signing keys (and only auth) and the JWKS');
is_deeply($f->{otherSecrets}{'flores-gateway'}, ['flores-jwks'], 'gateway: the public JWKS');
for my $s (grep { $_ ne 'auth' } @svc) {
    is_deeply($f->{otherSecrets}{"flores-$s"}, [], "$s: no other Secret");
}
is_deeply($f->{externalName},
          [map { "flores-$_" } qw(mongodb postgresql rabbitmq redis smtp)], 'stores as ExternalName');

# ---- the gateway's nginx files ----------------------------------------------------------------

{
    my $r = run(["$K8S/nginx-config", '--check']);
    is($r->{rc}, 0, 'base/nginx/ is up to date with conf/nginx/') or diag($r->{err});
}

# The gateway's Kubernetes configuration, run: the image's /etc/flores/nginx/ is conf/nginx/
# with the ConfigMap's files over it; paths move into a temporary prefix.  In a network
# namespace of its own (nothing reaches the host's network), like a pod network: the gateway
# on 10.255.0.100 (:8080 public, :8081 internal), "pods" of the cart and wishlist services on
# 10.255.0.5 and 10.255.0.6 (FastCGI :9000), the other services absent, no stores.
my @SVC_ORDER = qw(auth product user order cart wishlist review contact);
my %POD = map { $SVC_ORDER[$_] => '10.255.0.' . ($_ + 1) } 0 .. $#SVC_ORDER;
my $GW  = '10.255.0.100';
my $NS  = "flores-k8s-t50-$$";
my (@pids, $ns_made);

sub in_ns { return run(['ip', 'netns', 'exec', $NS, @{ $_[0] }], timeout => $_[1] // 30) }

sub spawn_in_ns {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log;
        open STDERR, '>&', \*STDOUT;
        exec('ip', 'netns', 'exec', $NS, @cmd) or POSIX::_exit(127);
    }
    push @pids, $pid;
    return $pid;
}

sub cleanup_ns {
    for my $pid (reverse @pids) {
        kill 'TERM', $pid;
        my $t = time + 10;
        while (waitpid($pid, POSIX::WNOHANG()) == 0 && time < $t) { select undef, undef, undef, 0.1 }
        if (kill 0, $pid) { kill 'KILL', $pid; waitpid $pid, 0 }
    }
    @pids = ();
    run(['ip', 'netns', 'del', $NS]) if $ns_made;
    $ns_made = 0;
}
END { cleanup_ns() }
$SIG{INT} = $SIG{TERM} = sub { cleanup_ns(); exit 1 };

# curl inside the namespace: {status, body}.
sub ns_get {
    my ($url, @extra) = @_;
    my $r = in_ns(['curl', '-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', @extra, $url]);
    my ($body, $status) = $r->{out} =~ /\A(.*)\n(\d+)\z/s ? ($1, $2) : ($r->{out}, 0);
    return { status => $status + 0, body => $body, err => $r->{err} };
}

{
    my $build  = $ENV{FLORES_BUILD_DIR} || "$ROOT/run/build";
    my $module = "$build/nginx-module/.libs/ngx_http_flores_module.so";
    ok(-f $module, "the module is built ($module)") or diag('run ./flores build first');
    my $p = File::Temp->newdir;
    chmod 0755, "$p";
    my $etc = "$p/etc";
    run(['cp', '-a', "$ROOT/conf/nginx", $etc]);
    make_path("$p/cache", "$p/tmp", "$p/secrets", "$p/jwks");
    chmod 0777, "$p/cache";
    # The token keys as the Secrets have them: auth's private keys (flores-jwt-keys), the
    # public JWKS the gateway mounts (flores-jwks at /run/flores-jwks), made by flores-admin.
    make_path("$p/jwt", { mode => 0700 });
    my $r = run(['env', "FLORES_JWT_KEYS_DIR=$p/jwt", "FLORES_JWT_JWKS_FILE=$p/jwks/jwks.json",
                 "$build/fcgi-services/auth/flores-admin", 'keys', 'init']);
    is($r->{rc}, 0, 'flores-admin keys init: the first signing key and its JWKS') or diag($r->{err});
    my ($kid) = map { /^(\S+) \d+ \d+$/ ? $1 : () } split /\n/, slurp("$p/jwt/keys.state");
    # The gateway key as the pod has it: the Secret's item, and what the image's entry point
    # writes from it (/tmp/gateway-key.conf, linked as /etc/flores/nginx/gateway-key.conf).
    my $gw_key = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
    spew("$p/secrets/gateway.key", $gw_key);
    spew("$etc/gateway-key.conf", qq{fastcgi_param  FLORES_GATEWAY_KEY  "$gw_key";\n});
    for my $file (glob("$K8S/base/nginx/*.conf")) {
        my $t = slurp($file);
        $t =~ s{/usr/lib/nginx/modules/ngx_http_flores_module\.so}{$module}g;
        $t =~ s{/var/cache/flores-nginx}{$p/cache}g;
        $t =~ s{/run/secrets/flores}{$p/secrets}g;
        $t =~ s{/run/flores-jwks}{$p/jwks}g;
        $t =~ s{/tmp/nginx\.pid}{$p/tmp/nginx.pid}g;
        $t =~ s{\bflores-([a-z]+):9000}{$POD{$1}:9000}g;    # the Services' addresses
        $t =~ s{/tmp/gateway-key\.conf}{$etc/gateway-key.conf}g;
        $t =~ s{^(\s*)listen (8080|8081|8082);}{$1listen $GW:$2;}mg;
        spew("$etc/" . ($file =~ s{.*/}{}r), $t);
    }
    like(slurp("$etc/jwt.conf"), qr{^flores_jwt_jwks_file\s+\Q$p\E/jwks/jwks\.json;}m,
         'jwt.conf: the JWKS of the Secret flores-jwks');
    unlike(slurp("$etc/upstreams.conf"), qr/flores-[a-z]+:9000/, 'every upstream given an address');
    $r = run(['ip', 'netns', 'add', $NS]);
    $ns_made = $r->{rc} == 0;
    ok($ns_made, "network namespace $NS") or diag($r->{err});
    $r = in_ns(['sh', '-c', join '; ', 'ip link set lo up',
                (map { "ip addr add $_/32 dev lo" } $GW, @POD{qw(cart wishlist)}, '203.0.113.7')]);
    is($r->{rc}, 0, '  ... with the gateway and two pod addresses') or diag($r->{err});
    $r = in_ns(['nginx', '-e', 'stderr', '-p', "$p/", '-c', "$etc/nginx.conf", '-t']);
    is($r->{rc}, 0, 'nginx -t accepts the Kubernetes gateway configuration') or diag($r->{err});

    for my $svc (qw(cart wishlist)) {
        my $bin = "$build/fcgi-services/$svc/flores-$svc";
        ok(-x $bin, "$svc is built");
        spawn_in_ns("$p/$svc.log", 'env', '-i', 'PATH=/usr/bin:/bin', 'LANG=C.UTF-8',
                    "FLORES_LISTEN=$POD{$svc}:9000", 'FLORES_WORKERS=2',
                    'FLORES_REDIS_URL=redis://10.255.0.200:6379/0', 'FLORES_REDIS_TIMEOUT=300',
                    "FLORES_INTERNAL_URL=http://$GW:8082", "FLORES_GATEWAY_KEY_FILE=$p/secrets/gateway.key", $bin);
    }
    spawn_in_ns("$p/nginx.log", 'nginx', '-e', 'stderr', '-p', "$p/", '-c', "$etc/nginx.conf",
                '-g', 'daemon off;');
    my $up;
    for (1 .. 50) {
        $up = ns_get("http://$GW:8081/health");
        last if $up->{status} == 200 && ns_get("http://$POD{cart}:9000/")->{err} !~ /refused/;
        select undef, undef, undef, 0.2;
    }
    is($up->{status}, 200, 'internal GET /health (the kubelet\'s probe): 200')
        or diag(slurp("$p/nginx.log"));
    like($up->{body}, qr/"status":"ok"/, '  ... "ok" without asking any service');

    my $m = ns_get("http://$GW:8081/metrics");
    is($m->{status}, 200, 'internal GET /metrics');
    like($m->{body}, qr/^flores_gateway_requests_total\{/m, '  ... the gateway\'s metrics');

    $m = ns_get("http://$GW:8081/services/cart/metrics");
    is($m->{status}, 200, 'GET /services/cart/metrics through the upstream (the Service)')
        or diag($m->{body} . slurp("$p/cart.log"));
    like($m->{body}, qr/^flores_store_errors_total\{service="cart"/m, '  ... the cart service\'s metrics');

    for my $svc (qw(cart wishlist)) {
        $m = ns_get("http://$GW:8081/pods/$POD{$svc}/metrics");
        is($m->{status}, 200, "GET /pods/$POD{$svc}/metrics: one pod, for Prometheus");
        like($m->{body}, qr/^flores_store_errors_total\{service="$svc"/m, "  ... that pod's ($svc) metrics");
    }
    $m = ns_get("http://$GW:8081/pods/$POD{cart}/health");
    like($m->{status}, qr/^(200|503)$/, "GET /pods/<address>/health: the pod's own health ($m->{status})");
    like($m->{body}, qr/"service":"cart"/, '  ... from the cart service');
    for my $bad ('/pods/8.8.8.8/metrics', '/pods/127.0.0.1/metrics', "/pods/$POD{cart}/api/cart",
                 "/pods/$POD{cart}:22/metrics", "/pods/10.255.0.5.evil/metrics") {
        is(ns_get("http://$GW:8081$bad")->{status}, 404, "GET $bad: 404 (private addresses, port 9000, health and metrics only)");
    }
    is(ns_get("http://$GW:8081/pods/$POD{cart}/metrics", '-X', 'POST')->{status}, 403,
       'POST /pods/<address>/metrics: refused');
    is(ns_get("http://$GW:8081/metrics", '--interface', '203.0.113.7')->{status}, 403,
       'the internal listener refuses a caller outside the private ranges');
    is(ns_get("http://$GW:8080/metrics")->{status}, 404, 'no /metrics on the public listener');
    # A customer's request: the token checked with the Secret's JWKS, then the cart pod.
    is(ns_get("http://$GW:8080/api/cart")->{status}, 401, 'public GET /api/cart without a token: 401');
    my $iat = time - 5;
    my $jwt = es256_jwt("$p/jwt/$kid.pem", $kid, { sub => '42', role => 'customer',
        email => 'k8s@example.com', iss => 'flores-victoria', aud => 'flores-victoria-api',
        iat => $iat, exp => $iat + 300 });
    my $c = ns_get("http://$GW:8080/api/cart", '-H', "Authorization: Bearer $jwt");
    is($c->{status}, 503, 'public GET /api/cart with an ES256 token of the JWKS: the cart pod answers (503: no Redis here)')
        or diag($c->{body});
    like(ns_get("http://$GW:8081/pods/$POD{cart}/metrics")->{body},
         qr/^flores_http_requests_total\{service="cart",route="\/api\/cart",method="GET",status="503"\} 1$/m,
         '  ... counted by the cart service itself');
    my $other = es256_jwt("$p/jwt/$kid.pem", 'no-such-kid', { sub => '42', role => 'customer',
        iss => 'flores-victoria', aud => 'flores-victoria-api', iat => $iat, exp => $iat + 300 });
    is(ns_get("http://$GW:8080/api/cart", '-H', "Authorization: Bearer $other")->{status}, 401,
       '  ... a kid the JWKS does not hold: 401');

    # The internal API passage and the revocations: port 8082, private addresses only, never
    # on the read-only 8081.
    is(ns_get("http://$GW:8081/revocations", '-X', 'POST', '--data-binary', "42 " . (time + 1) . "\n")->{status},
       404, 'POST /revocations on the read-only 8081: 404');
    is(ns_get("http://$GW:8082/revocations", '--interface', '203.0.113.7', '-X', 'POST',
              '--data-binary', "42 " . (time + 1) . "\n")->{status},
       403, 'port 8082 refuses a caller outside the private ranges');
    my $rv = ns_get("http://$GW:8082/revocations", '-X', 'POST', '--data-binary', "42 " . (time + 1) . "\n");
    is($rv->{status}, 204, 'POST /revocations on 8082 (as auth pushes them): 204') or diag($rv->{body});
    like(ns_get("http://$GW:8082/revocations")->{body}, qr/"entries":1\b/, '  ... one entry in the zone');
    $c = ns_get("http://$GW:8080/api/cart", '-D', '-', '-H', "Authorization: Bearer $jwt");
    is($c->{status}, 401, '  ... the user\'s earlier token is refused now');
    like($c->{body}, qr/^WWW-Authenticate: .*token revoked/mi, '  ... as revoked') or diag($c->{body});
    my $p8082 = ns_get("http://$GW:8082/internal/cart/api/cart");
    like($p8082->{status}, qr/^(400|401|503)$/,
         "GET /internal/cart/api/cart on 8082 reaches the cart pod ($p8082->{status})");
    like($p8082->{body}, qr/"status":"(fail|error)"/, '  ... a JSend answer from the service')
        or diag($p8082->{body});
    my $h = ns_get("http://$GW:8080/health");
    is($h->{status}, 503, 'public GET /health: the aggregate (auth and user absent: down)');
    like($h->{body}, qr/"cart":\{"status":"(up|down)"/, '  ... lists the cart service');
    cleanup_ns();
    ok(!grep({ kill 0, $_ } @pids), 'everything started here is stopped');
}

# An ES256 token as auth signs it: JWS signature r || s, made by OpenSSL's command line
# (a DER signature) and unpacked.
sub es256_jwt {
    my ($pem, $kid, $claims) = @_;
    my $b64 = sub { MIME::Base64::encode_base64url($_[0]) };
    my $json = JSON::PP->new->canonical;
    my $input = $b64->($json->encode({ alg => 'ES256', typ => 'JWT', kid => $kid })) . '.'
              . $b64->($json->encode($claims));
    my $r = run(['openssl', 'dgst', '-sha256', '-sign', $pem, '-hex'], input => $input);
    my ($hex) = $r->{out} =~ /=\s*([0-9a-f]+)\s*$/ or die "openssl dgst -sign: $r->{err}";
    my $der = pack 'H*', $hex;
    my $rl = ord substr $der, 3, 1;
    my $rv = substr $der, 4, $rl;
    my $sv = substr $der, 4 + $rl + 2, ord substr $der, 4 + $rl + 1, 1;
    my $fix = sub { my $v = shift; $v =~ s/^\0+//; return ("\0" x (32 - length $v)) . $v };
    return "$input." . $b64->($fix->($rv) . $fix->($sv));
}

done_testing();
