#!/usr/bin/env node
// k8s-validate: offline checks of a rendered Kubernetes manifest stream (kubectl kustomize).
//
//   kubectl kustomize deploy/kubernetes/overlays/production | tools/k8s-validate/k8s-validate.mjs -
//   tools/k8s-validate/k8s-validate.mjs [--allow-missing-secret NAME]... FILE|-
//
// 1. Schema: every object is built from its apiVersion/kind with kubernetes-models and
//    validated (types, required fields).  An unknown apiVersion/kind is an error.
// 2. Platform rules:
//    - every container of a Deployment (StatefulSet, DaemonSet) has a readiness and a liveness
//      probe; of those and of a Job, cpu and memory requests and limits, runs as non-root
//      (runAsNonRoot, runAsUser > 0), without privilege escalation, dropping every capability,
//      under a seccomp profile (Pod Security "restricted"); a probe's named port exists;
//    - ConfigMaps and Secrets a pod uses exist in the stream (except --allow-missing-secret);
//    - an HPA's scaleTargetRef, a Service's, a PodDisruptionBudget's and a NetworkPolicy's
//      selectors find pods of the stream (a NetworkPolicy peer with a namespaceSelector may
//      point elsewhere and is not checked);
//    - no two objects share kind, namespace and name.
// Exit status 0 when everything passes, 1 otherwise (each problem on stderr), 2 on usage.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';

const require = createRequire(import.meta.url);

function usage(msg) {
    if (msg) process.stderr.write(`k8s-validate: ${msg}\n`);
    process.stderr.write('usage: k8s-validate.mjs [--allow-missing-secret NAME]... FILE|-\n');
    process.exit(2);
}

const allowSecrets = new Set();
let input = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--allow-missing-secret') {
        if (i + 1 >= argv.length) usage('--allow-missing-secret needs a name');
        allowSecrets.add(argv[++i]);
    } else if (argv[i] === '--help' || argv[i] === '-h') {
        usage();
    } else if (input === null) {
        input = argv[i];
    } else {
        usage(`unexpected argument ${argv[i]}`);
    }
}
if (input === null) usage('no input');

const text = readFileSync(input === '-' ? 0 : input, 'utf8');
const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);

// ---- parse ----------------------------------------------------------------------------------

const objects = [];
for (const doc of parseAllDocuments(text)) {
    if (doc.errors && doc.errors.length > 0) {
        for (const e of doc.errors) problem('yaml', e.message);
        continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) {
        problem('yaml', 'a document is not a mapping');
        continue;
    }
    objects.push(obj);
}
if (objects.length === 0) problem('input', 'no objects');

const nameOf = (o) => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;

// ---- 1. schema ------------------------------------------------------------------------------

function modelFor(apiVersion, kind) {
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') return null;
    const path = apiVersion.includes('/') ? apiVersion : `v1`;
    if (!/^[a-z0-9.-]+(\/v[0-9a-z]+)?$/.test(path)) return null;
    let mod;
    try {
        mod = require(`kubernetes-models/${path}`);
    } catch {
        return null;
    }
    const cls = mod[kind];
    return typeof cls === 'function' ? cls : null;
}

for (const o of objects) {
    const Model = modelFor(o.apiVersion, o.kind);
    if (Model === null) {
        problem(nameOf(o), `unknown apiVersion/kind ${o.apiVersion}/${o.kind}`);
        continue;
    }
    // kustomize v5 folds a long Secret value's base64 into lines (a YAML block scalar); the API
    // server's decoder skips the line breaks, the schema's "byte" format does not.
    const checked = o.kind === 'Secret' && o.data
        ? { ...o, data: Object.fromEntries(Object.entries(o.data)
            .map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\s+/g, '') : v])) }
        : o;
    try {
        new Model(checked).validate();
    } catch (e) {
        const detail = Array.isArray(e.errors) && e.errors.length > 0
            ? e.errors.map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ')
            : e.message;
        problem(nameOf(o), `schema: ${detail}`);
    }
}

// ---- 2. platform rules ----------------------------------------------------------------------

const ns = (o) => o.metadata?.namespace ?? '';
const seen = new Set();
for (const o of objects) {
    const key = `${o.kind}|${ns(o)}|${o.metadata?.name}`;
    if (seen.has(key)) problem(nameOf(o), 'defined twice');
    seen.add(key);
}

const byKind = (kind) => objects.filter((o) => o.kind === kind);
const exists = (kind, name, namespace) =>
    objects.some((o) => o.kind === kind && o.metadata?.name === name && ns(o) === namespace);

const workloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'];
const servingKinds = ['Deployment', 'StatefulSet', 'DaemonSet'];   // probes required
const pods = objects
    .filter((o) => workloadKinds.includes(o.kind))
    .map((o) => ({ owner: o, ns: ns(o), labels: o.spec?.template?.metadata?.labels ?? {} }));

function matches(selector, labels) {
    if (!selector || typeof selector !== 'object') return false;
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
        if (labels[k] !== v) return false;
    }
    for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const val = labels[e.key];
        if (e.operator === 'In' && !(has && e.values.includes(val))) return false;
        if (e.operator === 'NotIn' && has && e.values.includes(val)) return false;
        if (e.operator === 'Exists' && !has) return false;
        if (e.operator === 'DoesNotExist' && has) return false;
    }
    return true;
}
const findsPods = (selector, namespace) =>
    pods.some((p) => p.ns === namespace && matches(selector, p.labels));

for (const d of objects.filter((o) => workloadKinds.includes(o.kind))) {
    const where = nameOf(d);
    const spec = d.spec?.template?.spec ?? {};
    const podSec = spec.securityContext ?? {};
    if (d.kind !== 'Job' && !matches(d.spec?.selector, d.spec?.template?.metadata?.labels ?? {})) {
        problem(where, 'spec.selector does not match the pod template labels');
    }
    const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    for (const c of spec.containers ?? []) {
        const cw = `${where} container ${c.name}`;
        for (const probe of servingKinds.includes(d.kind) ? ['readinessProbe', 'livenessProbe'] : []) {
            const p = c[probe];
            if (!p) {
                problem(cw, `no ${probe}`);
                continue;
            }
            const port = p.httpGet?.port ?? p.tcpSocket?.port ?? p.grpc?.port;
            if (typeof port === 'string' && !(c.ports ?? []).some((x) => x.name === port)) {
                problem(cw, `${probe} names port "${port}", which the container does not have`);
            }
            if (!p.httpGet && !p.tcpSocket && !p.exec && !p.grpc) {
                problem(cw, `${probe} has no handler`);
            }
        }
        for (const kind of ['requests', 'limits']) {
            for (const res of ['cpu', 'memory']) {
                if (c.resources?.[kind]?.[res] === undefined) problem(cw, `no ${res} ${kind}`);
            }
        }
    }
    for (const c of containers) {
        const cw = `${where} container ${c.name}`;
        const sec = c.securityContext ?? {};
        const nonRoot = sec.runAsNonRoot ?? podSec.runAsNonRoot;
        const uid = sec.runAsUser ?? podSec.runAsUser;
        if (nonRoot !== true) problem(cw, 'runAsNonRoot is not true');
        if (uid === undefined || uid === 0) problem(cw, 'runAsUser is not a non-zero uid');
        if (sec.allowPrivilegeEscalation !== false) problem(cw, 'allowPrivilegeEscalation is not false');
        if (sec.privileged === true) problem(cw, 'privileged');
        // Pod Security "restricted" (the production namespace enforces it).
        if (!(sec.capabilities?.drop ?? []).includes('ALL')) problem(cw, 'capabilities do not drop ALL');
        const seccomp = sec.seccompProfile?.type ?? podSec.seccompProfile?.type;
        if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problem(cw, 'no seccompProfile RuntimeDefault');
        for (const ef of c.envFrom ?? []) {
            if (ef.configMapRef && !ef.configMapRef.optional
                && !exists('ConfigMap', ef.configMapRef.name, ns(d))) {
                problem(cw, `ConfigMap ${ef.configMapRef.name} does not exist`);
            }
            if (ef.secretRef && !ef.secretRef.optional && !allowSecrets.has(ef.secretRef.name)
                && !exists('Secret', ef.secretRef.name, ns(d))) {
                problem(cw, `Secret ${ef.secretRef.name} does not exist`);
            }
        }
        for (const e of c.env ?? []) {
            const cm = e.valueFrom?.configMapKeyRef;
            const se = e.valueFrom?.secretKeyRef;
            if (cm && !cm.optional) {
                const m = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === cm.name
                    && ns(o) === ns(d));
                if (!m) problem(cw, `env ${e.name}: ConfigMap ${cm.name} does not exist`);
                else if (!(cm.key in (m.data ?? {}))) problem(cw, `env ${e.name}: ConfigMap ${cm.name} has no key ${cm.key}`);
            }
            if (se && !se.optional && !allowSecrets.has(se.name)) {
                const s = objects.find((o) => o.kind === 'Secret' && o.metadata?.name === se.name
                    && ns(o) === ns(d));
                if (!s) problem(cw, `env ${e.name}: Secret ${se.name} does not exist`);
                else if (!(se.key in { ...(s.data ?? {}), ...(s.stringData ?? {}) })) {
                    problem(cw, `env ${e.name}: Secret ${se.name} has no key ${se.key}`);
                }
            }
        }
        const vols = new Set((spec.volumes ?? []).map((v) => v.name));
        for (const m of c.volumeMounts ?? []) {
            if (!vols.has(m.name)) problem(cw, `mounts volume ${m.name}, which the pod does not have`);
        }
    }
    for (const v of spec.volumes ?? []) {
        if (v.configMap && !v.configMap.optional && !exists('ConfigMap', v.configMap.name, ns(d))) {
            problem(where, `volume ${v.name}: ConfigMap ${v.configMap.name} does not exist`);
        }
        if (v.secret && !v.secret.optional && !allowSecrets.has(v.secret.secretName)) {
            const s = objects.find((o) => o.kind === 'Secret' && o.metadata?.name === v.secret.secretName
                && ns(o) === ns(d));
            if (!s) {
                problem(where, `volume ${v.name}: Secret ${v.secret.secretName} does not exist`);
            } else {
                const keys = { ...(s.data ?? {}), ...(s.stringData ?? {}) };
                for (const it of v.secret.items ?? []) {
                    if (!(it.key in keys)) problem(where, `volume ${v.name}: Secret ${v.secret.secretName} has no key ${it.key}`);
                }
            }
        }
    }
}

for (const h of byKind('HorizontalPodAutoscaler')) {
    const ref = h.spec?.scaleTargetRef ?? {};
    if (!exists(ref.kind, ref.name, ns(h))) {
        problem(nameOf(h), `scaleTargetRef ${ref.kind}/${ref.name} does not exist`);
    }
    if ((h.spec?.minReplicas ?? 1) > h.spec?.maxReplicas) {
        problem(nameOf(h), 'minReplicas is above maxReplicas');
    }
}

for (const s of byKind('Service')) {
    if (s.spec?.type === 'ExternalName') continue;
    if (s.spec?.selector && !findsPods({ matchLabels: s.spec.selector }, ns(s))) {
        problem(nameOf(s), 'selector finds no pods');
    }
}

for (const p of byKind('PodDisruptionBudget')) {
    if (!findsPods(p.spec?.selector, ns(p))) problem(nameOf(p), 'selector finds no pods');
}

for (const n of byKind('NetworkPolicy')) {
    const sel = n.spec?.podSelector ?? {};
    const empty = Object.keys(sel.matchLabels ?? {}).length === 0
        && (sel.matchExpressions ?? []).length === 0;
    if (!empty && !findsPods(sel, ns(n))) problem(nameOf(n), 'podSelector finds no pods');
    for (const dir of ['ingress', 'egress']) {
        for (const rule of n.spec?.[dir] ?? []) {
            for (const peer of rule[dir === 'ingress' ? 'from' : 'to'] ?? []) {
                if (peer.podSelector && !peer.namespaceSelector && !findsPods(peer.podSelector, ns(n))) {
                    problem(nameOf(n), `${dir} peer ${JSON.stringify(peer.podSelector)} finds no pods`);
                }
            }
        }
    }
}

for (const i of byKind('Ingress')) {
    for (const r of i.spec?.rules ?? []) {
        for (const p of r.http?.paths ?? []) {
            const svc = p.backend?.service;
            if (!svc) continue;
            const s = objects.find((o) => o.kind === 'Service' && o.metadata?.name === svc.name && ns(o) === ns(i));
            if (!s) {
                problem(nameOf(i), `backend Service ${svc.name} does not exist`);
            } else if (svc.port?.name && !(s.spec?.ports ?? []).some((x) => x.name === svc.port.name)) {
                problem(nameOf(i), `backend Service ${svc.name} has no port ${svc.port.name}`);
            }
        }
    }
    for (const t of i.spec?.tls ?? []) {
        if (t.secretName && !allowSecrets.has(t.secretName) && !exists('Secret', t.secretName, ns(i))) {
            problem(nameOf(i), `TLS Secret ${t.secretName} does not exist`);
        }
    }
}

// ---- report ---------------------------------------------------------------------------------

for (const p of problems) process.stderr.write(`k8s-validate: ${p}\n`);
const kinds = {};
for (const o of objects) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
const summary = Object.entries(kinds).sort().map(([k, n]) => `${n} ${k}`).join(', ');
process.stdout.write(`${objects.length} objects (${summary}): `
    + `${problems.length === 0 ? 'valid' : `${problems.length} problem(s)`}\n`);
process.exit(problems.length === 0 ? 0 : 1);
