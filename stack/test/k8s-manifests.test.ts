/**
 * Renders every k8s overlay as kustomize would (a small reader of the features these files use:
 * resources, components, namespace, labels, images, configMapGenerator, JSON 6902 patches with
 * regex targets) and checks each object against its schema (kubernetes-models and the CRD models
 * of Argo Rollouts, KEDA, CloudNativePG, cert-manager), then our own rules for what runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUBGRAPH_NAMES } from '@bilten/gateway';
import { parseEnv, platformEnv } from '@bilten/platform';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests of many kinds, checked field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  data?: any;
}
interface Target {
  kind?: string;
  name?: string;
}
interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  labels?: { pairs: Record<string, string>; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator?: { name: string; behavior?: string; literals?: string[] }[];
  patches?: { target?: Target; patch?: string; path?: string }[];
}
type Op = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

const TEMPLATED = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

/** RFC 6902 on plain objects: the operations these files use. */
function applyOps(object: unknown, ops: Op[], where: string) {
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    // biome-ignore lint/suspicious/noExplicitAny: walking arbitrary JSON
    let parent: any = object;
    for (const key of keys) {
      parent = parent?.[key];
      if (parent === undefined) throw new Error(`${where}: ${op} ${path}: no such path`);
    }
    const clone = structuredClone(value);
    if (op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(value))
        throw new Error(`${where}: test ${path} failed: ${JSON.stringify(parent[last])}`);
    } else if (op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (Array.isArray(parent) && op === 'add') {
      if (last === '-') parent.push(clone);
      else parent.splice(Number(last), 0, clone);
    } else {
      if (op === 'replace' && !(last in parent)) throw new Error(`${where}: replace ${path}: no such path`);
      parent[last] = clone;
    }
  }
}

const matches = (target: Target | undefined, m: Manifest) =>
  (!target?.kind || target.kind === m.kind) &&
  (!target?.name || new RegExp(`^(?:${target.name})$`).test(m.metadata.name));

/** `kustomize build dir`, for what these files use. */
function build(dir: string): { objects: Manifest[]; config: Record<string, string> } {
  const k = parse(read(join(dir, 'kustomization.yaml'))) as Kustomization;
  let objects: Manifest[] = [];
  let config: Record<string, string> = {};
  const layer = (from: { objects: Manifest[]; config: Record<string, string> }) => {
    objects.push(...from.objects);
    config = { ...config, ...from.config };
  };
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    if (resource.endsWith('.yaml')) {
      objects.push(
        ...parseAllDocuments(read(path)).flatMap((doc) => {
          expect(doc.errors, path).toEqual([]);
          return doc.contents === null ? [] : [doc.toJS() as Manifest];
        }),
      );
    } else layer(build(path));
  }
  const transform = (kustomization: Kustomization, at: string) => {
    for (const generator of kustomization.configMapGenerator ?? []) {
      const literals = Object.fromEntries(
        (generator.literals ?? []).map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]),
      );
      if (generator.behavior === 'merge')
        expect(Object.keys(config).length, `${at}: merge into nothing`).not.toBe(0);
      config = { ...config, ...literals };
    }
    for (const { target, patch, path } of kustomization.patches ?? []) {
      const ops = parse(patch ?? read(join(at, path!))) as Op[];
      const hit = objects.filter((m) => matches(target, m));
      expect(hit.length, `${at}: patch target ${JSON.stringify(target)} matches nothing`).toBeGreaterThan(0);
      for (const m of hit) applyOps(m, ops, `${at} ${m.kind}/${m.metadata.name}`);
    }
  };
  // A component's generators and patches apply in the kustomization that lists it.
  if (k.kind === 'Component') return { objects, config };
  for (const component of k.components ?? []) {
    const path = join(dir, component);
    const c = parse(read(join(path, 'kustomization.yaml'))) as Kustomization;
    expect(c.kind).toBe('Component');
    layer(build(path));
    transform(c, path);
  }
  transform(k, dir);
  for (const { pairs, includeTemplates } of k.labels ?? [])
    for (const m of objects) {
      m.metadata.labels = { ...m.metadata.labels, ...pairs };
      if (includeTemplates && TEMPLATED.has(m.kind))
        m.spec.template.metadata.labels = { ...m.spec.template.metadata.labels, ...pairs };
    }
  for (const image of k.images ?? [])
    for (const m of objects.filter((o) => TEMPLATED.has(o.kind)))
      for (const container of m.spec.template.spec.containers as { image: string }[]) {
        const [name, tag] = container.image.split(':');
        if (name !== image.name) continue;
        container.image = `${image.newName ?? name}:${image.newTag ?? tag ?? 'latest'}`;
      }
  if (k.namespace)
    objects = objects.map((m) =>
      m.kind === 'Namespace' ? m : { ...m, metadata: { ...m.metadata, namespace: k.namespace } },
    );
  return { objects, config };
}

// biome-ignore lint/suspicious/noExplicitAny: model classes of many kinds
type ModelClass = new (data: any) => { validate(): void };
/** The model class of an apiVersion + kind, from the package that knows its group. */
async function modelOf({ apiVersion, kind }: Manifest): Promise<ModelClass | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const packages: Record<string, string> = {
    '': `kubernetes-models/${version}`,
    'argoproj.io': '@kubernetes-models/argo-rollouts/argoproj.io',
    'keda.sh': '@kubernetes-models/keda/keda.sh',
    'postgresql.cnpg.io': '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io',
    'cert-manager.io': '@kubernetes-models/cert-manager/cert-manager.io',
  };
  const module = group! in packages ? packages[group!] : `kubernetes-models/${group}`;
  const path = group === '' ? `${module}/${kind}` : `${module}/${version}/${kind}`;
  const loaded = (await import(path).catch(() => undefined)) as Record<string, ModelClass> | undefined;
  return loaded?.[kind];
}

const SERVICES = ['gateway', ...SUBGRAPH_NAMES];
const PROCESSORS = SUBGRAPH_NAMES.map((name) => `${name}-events`);
// biome-ignore lint/suspicious/noExplicitAny: pod specs, checked field by field
type PodTemplate = { metadata: { labels: Record<string, string> }; spec: any };

describe.each(['local', 'staging', 'production'])('overlay %s', (overlay) => {
  const { objects, config } = build(`k8s/overlays/${overlay}`);
  const ofKind = (kind: string) => objects.filter((m) => m.kind === kind);
  const find = (kind: string, name: string) => {
    const found = objects.find((m) => m.kind === kind && m.metadata.name === name);
    if (!found) throw new Error(`${overlay}: no ${kind} ${name}`);
    return found;
  };
  /** What runs pods: Rollouts (with their Deployment's template), event processors, StatefulSets. */
  const workloads: Array<{ kind: string; name: string; template: PodTemplate }> = [
    ...ofKind('Rollout').map((r) => ({
      kind: 'Rollout',
      name: r.metadata.name,
      template: find('Deployment', r.spec.workloadRef.name).spec.template as PodTemplate,
    })),
    ...ofKind('Deployment')
      .filter((d) => !ofKind('Rollout').some((r) => r.spec.workloadRef?.name === d.metadata.name))
      .map((d) => ({ kind: 'Deployment', name: d.metadata.name, template: d.spec.template as PodTemplate })),
    ...ofKind('StatefulSet').map((s) => ({
      kind: 'StatefulSet',
      name: s.metadata.name,
      template: s.spec.template,
    })),
  ];
  const selects = (
    selector: { matchLabels?: Record<string, string> } | undefined,
    labels: Record<string, string>,
  ) =>
    selector?.matchLabels !== undefined &&
    Object.entries(selector.matchLabels).every(([key, value]) => labels[key] === value);

  it('renders objects that each pass their schema', async () => {
    const problems: string[] = [];
    for (const object of objects) {
      const Model = await modelOf(object);
      if (!Model) {
        problems.push(`${object.apiVersion} ${object.kind}: no model`);
        continue;
      }
      try {
        new Model(object).validate();
      } catch (err) {
        problems.push(`${object.kind}/${object.metadata.name}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    expect(new Set(objects.map((m) => m.metadata.namespace ?? 'bilten'))).toEqual(new Set(['bilten']));
  });

  it('runs each service blue-green: a Rollout of its Deployment, active and preview Services, analysis before and after promotion', () => {
    const templates = new Set(ofKind('AnalysisTemplate').map((t) => t.metadata.name));
    const metricsSource = read('packages/platform/src/metrics.ts');
    for (const template of ofKind('AnalysisTemplate'))
      for (const metric of template.spec.metrics) {
        const names = (metric.provider.prometheus.query as string).match(/[a-z_]+(?=\{)/g) ?? [];
        const series = names.filter(
          (n) => !['rate', 'sum', 'scalar', 'histogram_quantile', 'by'].includes(n),
        );
        expect(series.length, metric.name).toBeGreaterThan(0);
        for (const name of series)
          expect(metricsSource, `${name} in metrics.ts`).toContain(
            `'${name.replace(/_(count|bucket)$/, '')}'`,
          );
      }
    for (const service of SERVICES) {
      const rollout = find('Rollout', service);
      expect(rollout.spec.workloadRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: service });
      expect(rollout.spec.replicas).toBeUndefined();
      expect(find('Deployment', service).spec.replicas).toBe(0);
      const labels = find('Deployment', service).spec.template.metadata.labels;
      expect(selects(rollout.spec.selector, labels), service).toBe(true);
      const blueGreen = rollout.spec.strategy.blueGreen;
      expect(blueGreen.autoPromotionEnabled).toBe(false);
      for (const name of [blueGreen.activeService, blueGreen.previewService])
        expect(labels).toMatchObject(find('Service', name).spec.selector);
      expect(blueGreen.previewService).not.toBe(blueGreen.activeService);
      for (const analysis of [blueGreen.prePromotionAnalysis, blueGreen.postPromotionAnalysis]) {
        for (const { templateName } of analysis.templates) expect(templates).toContain(templateName);
        expect(analysis.args).toContainEqual({ name: 'service', value: service });
      }
      // Long enough for the post-promotion analysis to abort back to the old colour.
      const post = ofKind('AnalysisTemplate').flatMap((t) => t.spec.metrics);
      const longest = Math.max(...post.map((m) => Number.parseInt(m.interval, 10) * m.count));
      expect(blueGreen.scaleDownDelaySeconds).toBeGreaterThan(longest);
      if (service !== 'gateway') {
        const env = find('Deployment', service).spec.template.spec.containers[0].env;
        expect(env).toContainEqual({ name: 'EVENT_PROCESSING', value: 'off' });
      }
    }
  });

  it('autoscales Rollouts with HPAs on CPU and requests in flight, event processors with KEDA on consumer lag, never both', () => {
    const adapter = parse(read('k8s/autoscaling/prometheus-adapter-values.yaml'));
    const adapted = adapter.rules.custom.map((rule: { name: { as: string } }) => rule.name.as);
    const metricsSource = read('packages/platform/src/metrics.ts');
    const hpaTargets = ofKind('HorizontalPodAutoscaler').map((h) => {
      expect(h.spec.scaleTargetRef.kind).toBe('Rollout');
      const metrics = h.spec.metrics as Array<{
        type: string;
        resource?: { name: string };
        pods?: { metric: { name: string } };
      }>;
      expect(metrics.some((m) => m.resource?.name === 'cpu')).toBe(true);
      const custom = metrics.flatMap((m) => (m.pods ? [m.pods.metric.name] : []));
      expect(custom).toEqual(['http_requests_in_flight']);
      for (const name of custom) {
        expect(adapted).toContain(name);
        expect(metricsSource).toContain(`name: '${name}'`);
      }
      expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
      return `${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name}`;
    });
    expect(hpaTargets.sort()).toEqual(SERVICES.map((s) => `Rollout/${s}`).sort());
    const kedaTargets = ofKind('ScaledObject').map((s) => {
      for (const trigger of s.spec.triggers) {
        expect(trigger.type).toBe('nats-jetstream');
        expect(trigger.metadata.stream).toBe(config.NATS_STREAM ?? 'BILTEN');
        // `<service>-<handler>`, a handler the service declares (platform consumers.ts).
        const service = s.metadata.name.replace(/-events$/, '');
        const handler = trigger.metadata.consumer.slice(service.length + 1);
        expect(trigger.metadata.consumer.startsWith(`${service}-`), trigger.metadata.consumer).toBe(true);
        expect(declaresConsumer(service, handler), trigger.metadata.consumer).toBe(true);
      }
      expect(s.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      return `${s.spec.scaleTargetRef.kind ?? 'Deployment'}/${s.spec.scaleTargetRef.name}`;
    });
    expect(kedaTargets.sort()).toEqual(PROCESSORS.map((p) => `Deployment/${p}`).sort());
    expect(hpaTargets.filter((t) => kedaTargets.includes(t))).toEqual([]);
    for (const name of PROCESSORS) {
      const deployment = find('Deployment', name);
      expect(deployment.spec.replicas).toBeUndefined();
      const env = deployment.spec.template.spec.containers[0].env as Array<{ name: string }>;
      expect(env).toContainEqual({ name: 'EVENT_PROCESSING', value: 'on' });
      // The same variables as the request-serving pods, so both read the same secrets.
      const served = find('Deployment', name.replace(/-events$/, '')).spec.template.spec.containers[0].env;
      expect(env.map((v) => v.name)).toEqual(served.map((v: { name: string }) => v.name));
    }
  });

  it('gives every workload requests, limits, probes, a preStop sleep, a PDB, topology spread and cost labels', () => {
    expect(workloads.length).toBeGreaterThan(SERVICES.length);
    for (const { kind, name, template } of workloads) {
      const where = `${kind}/${name}`;
      for (const container of template.spec.containers) {
        for (const kind of ['requests', 'limits'])
          expect(Object.keys(container.resources?.[kind] ?? {}).sort(), `${where} ${kind}`).toEqual([
            'cpu',
            'memory',
          ]);
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'])
          expect(container[probe]?.httpGet?.path, `${where} ${probe}`).toBeTruthy();
        expect(container.lifecycle?.preStop?.exec?.command, `${where} preStop`).toBeDefined();
      }
      if (name !== 'nats')
        expect(template.spec.containers[0].lifecycle.preStop.exec.command[0], where).toBe('sleep');
      const keys = template.spec.topologySpreadConstraints?.map(
        (c: { topologyKey: string }) => c.topologyKey,
      );
      expect(keys, where).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
      expect(
        ofKind('PodDisruptionBudget').filter((p) => selects(p.spec.selector, template.metadata.labels)),
        `${where} PDB`,
      ).toHaveLength(1);
      expect(Object.keys(template.metadata.labels), where).toEqual(
        expect.arrayContaining([
          'app.kubernetes.io/name',
          'app.kubernetes.io/instance',
          'app.kubernetes.io/component',
          'app.kubernetes.io/part-of',
          'team',
          'tenant-tier',
        ]),
      );
      const policies = ofKind('NetworkPolicy').filter((p) =>
        selects(p.spec.podSelector, template.metadata.labels),
      );
      expect(policies.length, `${where} NetworkPolicy`).toBeGreaterThan(0);
    }
    for (const cluster of ofKind('Cluster'))
      expect(Object.keys(cluster.spec.inheritedMetadata.labels)).toEqual(
        expect.arrayContaining(['app.kubernetes.io/part-of', 'team', 'tenant-tier']),
      );
  });

  it(overlay === 'local' ? 'runs the image built locally' : 'pins every image (no latest)', () => {
    const images = workloads.flatMap(({ template }) =>
      template.spec.containers.map((c: { image: string }) => c.image),
    );
    if (overlay === 'local') expect(images).toContain('bilten:local');
    else for (const image of images) expect(image, image).toMatch(/:(?!latest$)[\w.-]+$/);
  });

  it.skipIf(overlay === 'local')(
    'clusters NATS (3 nodes, R3 streams) and PostgreSQL (CloudNativePG, 3, WAL to S3)',
    () => {
      const nats = find('StatefulSet', 'nats');
      expect(nats.spec.replicas).toBe(3);
      const conf = find('ConfigMap', 'nats-config').data['nats.conf'] as string;
      expect(conf).toContain('"jetstream"');
      for (const i of [0, 1, 2]) expect(conf).toContain(`nats-${i}.nats-headless:6222`);
      expect(config.NATS_STREAM_REPLICAS).toBe('3');
      const { NATS_STREAM_REPLICAS, NATS_URL } = config;
      expect(parseEnv(platformEnv, { NATS_STREAM_REPLICAS, NATS_URL }).NATS_STREAM_REPLICAS).toBe(3);
      expect(config.NATS_URL).toMatch(/^(nats|tls):\/\/nats:4222$/);
      const [cluster] = ofKind('Cluster');
      expect(cluster!.spec.instances).toBe(3);
      expect(cluster!.spec.backup.barmanObjectStore.destinationPath).toMatch(/^s3:\/\//);
      expect(ofKind('ScheduledBackup').map((b) => b.spec.cluster.name)).toEqual([cluster!.metadata.name]);
      // Every service's DATABASE_URL: the Secret whose password the operator gives the owner, and
      // whose url (secret.example.yaml) names the Cluster's read-write Service.
      const secret = cluster!.spec.bootstrap.initdb.secret.name;
      for (const name of [...SUBGRAPH_NAMES, ...PROCESSORS]) {
        const env = find('Deployment', name).spec.template.spec.containers[0].env;
        const variable = env.find((v: { name: string }) => v.name === 'DATABASE_URL');
        expect(variable.valueFrom.secretKeyRef, name).toEqual({ name: secret, key: 'url' });
      }
      const example = parseAllDocuments(read('k8s/base/secret.example.yaml'))
        .map((doc) => doc.toJS() as Manifest & { type: string; stringData: Record<string, string> })
        .find((m) => m.metadata.name === secret)!;
      expect(example.type).toBe('kubernetes.io/basic-auth');
      const url = new URL(example.stringData.url!);
      expect(url.hostname).toBe(`${cluster!.metadata.name}-rw`);
      expect(url.username).toBe(example.stringData.username);
      expect(url.pathname).toBe(`/${cluster!.spec.bootstrap.initdb.database}`);
      // Clients speak TLS to NATS where the overlay says so: then the servers must, with a mounted certificate.
      if (config.NATS_URL!.startsWith('tls://')) {
        expect(conf).toMatch(/"tls": \{[^}]*"cert_file": "\/etc\/nats-certs\/tls.crt"/);
        const mounts = nats.spec.template.spec.containers[0].volumeMounts as Array<{
          name: string;
          mountPath: string;
        }>;
        const mount = mounts.find((m) => m.mountPath === '/etc/nats-certs');
        const volume = nats.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount?.name);
        expect(find('Certificate', volume.secret.secretName).spec.dnsNames).toContain('nats');
      } else expect(conf).not.toContain('"tls"');
    },
  );
});

/**
 * Whether a subgraph declares a consumer of this handler name: `name: 'x'`, or a name built from
 * another service's, `name: \`${service}-x\``.
 */
function declaresConsumer(service: string, handler: string): boolean {
  const dir = join(ROOT, 'subgraphs', service, 'src');
  const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(join(dir, file), 'utf8'))
    .join('\n');
  if (sources.includes(`name: '${handler}'`)) return true;
  const built = [...sources.matchAll(/name: `\$\{service\}-([\w-]+)`/g)].map((m) => m[1]);
  return built.some((suffix) => handler.endsWith(`-${suffix}`));
}
