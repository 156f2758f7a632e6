/**
 * The deployment files (Dockerfile, docker-compose.yml, k8s/) cannot run on this machine (no Docker,
 * no cluster), so this checks them against the code they deploy: service names and ports from
 * each service's config, every variable against that service's own schema, probes against the routes every service
 * serves (`/livez`, `/readyz`), entry points against the files that exist.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gatewayEnv, SUBGRAPH_NAMES } from '@bilten/gateway';
import { parseEnv } from '@bilten/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { SUBGRAPHS, stackEnv } from '../src/stack.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const SERVICES = ['gateway', ...SUBGRAPH_NAMES] as const;
type ServiceName = (typeof SERVICES)[number];
/** Each service's own variables (its `src/config.ts`). */
const SCHEMAS: Record<string, z.ZodObject> = Object.fromEntries([
  ['gateway', gatewayEnv],
  ...SUBGRAPHS.map((definition) => [definition.name, definition.config]),
]);
const PORTS = {
  gateway: parseEnv(gatewayEnv, {}).GATEWAY_PORT,
  ...Object.fromEntries(SUBGRAPHS.map(({ name, config, port }) => [name, port(parseEnv(config, {}))])),
} as Record<ServiceName, number>;
/** Every variable a deployment may set: every service's, plus SERVICE for the image's entrypoint. */
const ENV_NAMES = new Set([...Object.keys(stackEnv.shape), 'SERVICE']);
/** The variables one service reads, plus SERVICE. */
const envNamesOf = (service: ServiceName) => new Set([...Object.keys(SCHEMAS[service]!.shape), 'SERVICE']);
const portVar = (service: ServiceName) => `${service.toUpperCase()}_PORT`;
const urlVar = (subgraph: string) => `${subgraph.toUpperCase()}_URL`;
const entryPoint = (service: ServiceName) =>
  service === 'gateway' ? 'gateway/src/index.ts' : `subgraphs/${service}/src/index.ts`;

/** Fails with the variable's name and zod's message, so a bad value reads like start-up would. */
function expectValidEnv(env: Record<string, string>, where: string, schema: z.ZodObject = stackEnv) {
  const { SERVICE: _service, ...variables } = env;
  const result = schema.safeParse(variables);
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  expect(problems, `${where}: env rejected by the service's config`).toEqual([]);
}

it("has a port variable and a URL variable in the services' config for every service", () => {
  for (const service of SERVICES) expect(ENV_NAMES, service).toContain(portVar(service));
  for (const subgraph of SUBGRAPH_NAMES) expect(ENV_NAMES, subgraph).toContain(urlVar(subgraph));
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    image?: string;
    build?: unknown;
    command?: string | string[];
    environment?: Record<string, string | number | boolean | null> | string[];
    depends_on?: string[] | Record<string, { condition?: string }>;
    healthcheck?: { test?: string | string[]; disable?: boolean };
    ports?: unknown[];
    expose?: unknown[];
  }
  // `merge`: the file shares blocks through YAML merge keys (`<<: *anchor`), as Compose allows.
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;
  const service = (name: string) => {
    const found = services[name];
    if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
    return found;
  };
  const environment = (name: string): Record<string, string> => {
    const env = service(name).environment ?? {};
    const entries = Array.isArray(env)
      ? env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)])
      : Object.entries(env).map(([key, value]) => [key, value == null ? '' : String(value)]);
    return Object.fromEntries(entries);
  };
  const healthyDependencies = (name: string) => {
    const dependsOn = service(name).depends_on ?? {};
    if (Array.isArray(dependsOn)) return [];
    return Object.entries(dependsOn)
      .filter(([, { condition }]) => condition === 'service_healthy')
      .map(([dependency]) => dependency);
  };
  const healthcheck = (name: string) => {
    const check = service(name).healthcheck;
    expect(check?.disable, `${name}: healthcheck disabled`).not.toBe(true);
    const test = check?.test;
    expect(test, `${name}: healthcheck`).toBeDefined();
    return Array.isArray(test) ? test.join(' ') : String(test);
  };

  it('has postgres, nats, the gateway and every subgraph', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'nats', ...SERVICES]));
  });

  it('builds every app service from the one Dockerfile and starts the service it is named after', () => {
    const built = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name]) => name).sort()).toEqual([...SERVICES].sort());
    for (const name of SERVICES) {
      expect(SERVICES, `${name}: SERVICE`).toContain(environment(name).SERVICE);
      expect(environment(name).SERVICE, `${name}: SERVICE`).toBe(name);
    }
  });

  it('sets only variables each service reads, with values it accepts', () => {
    for (const name of SERVICES) {
      const env = environment(name);
      for (const key of Object.keys(env))
        expect(envNamesOf(name), `${name}: unknown variable ${key}`).toContain(key);
      expectValidEnv(env, `docker-compose.yml ${name}`, SCHEMAS[name]);
      expect(env.NODE_ENV, name).toBe('production');
      expect(env.HOST, name).toBe('0.0.0.0');
    }
  });

  it('gives each subgraph its port, its database, NATS and a readiness healthcheck on that port', () => {
    for (const name of SUBGRAPH_NAMES) {
      const env = environment(name);
      expect(env[portVar(name)], `${name}: ${portVar(name)}`).toBe(String(PORTS[name]));
      expect(new URL(env.DATABASE_URL ?? '').hostname, `${name}: DATABASE_URL`).toBe('postgres');
      expect(env.NATS_URL, `${name}: NATS_URL`).toBe('nats://nats:4222');
      expect(healthcheck(name)).toContain(`http://127.0.0.1:${PORTS[name]}/readyz`);
      expect(healthyDependencies(name), `${name}: depends_on`).toEqual(
        expect.arrayContaining(['postgres', 'nats']),
      );
    }
  });

  it('points the gateway at every subgraph by compose service name and port, once they are healthy', () => {
    const env = environment('gateway');
    expect(env.GATEWAY_PORT).toBe(String(PORTS.gateway));
    for (const name of SUBGRAPH_NAMES) {
      expect(env[urlVar(name)], urlVar(name)).toBe(`http://${name}:${PORTS[name]}/graphql`);
    }
    expect(healthyDependencies('gateway')).toEqual(expect.arrayContaining([...SUBGRAPH_NAMES]));
    expect(healthcheck('gateway')).toContain(`http://127.0.0.1:${PORTS.gateway}/readyz`);
  });

  it('publishes the gateway port and no other app port', () => {
    expect(service('gateway').ports?.map(String)).toContain(`${PORTS.gateway}:${PORTS.gateway}`);
    for (const name of SUBGRAPH_NAMES) expect(service(name).ports, `${name}: ports`).toBeUndefined();
  });

  it('runs PostgreSQL and NATS JetStream with healthchecks', () => {
    expect(service('postgres').image).toMatch(/^postgres:17/);
    expect(healthcheck('postgres')).toContain('pg_isready');
    expect(service('nats').image).toMatch(/^nats:2\.10/);
    const command = [service('nats').command ?? []].flat().join(' ');
    expect(command).toContain('-js');
    expect(command).toMatch(/-m 8222\b/);
    expect(healthcheck('nats')).toContain(':8222/healthz');
    expect(service('nats').expose?.map(String)).toContain('4222');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const entrypointScript = 'docker-entrypoint.sh';

  it('builds from a Node 20 image only', () => {
    const froms = all('FROM').map((args) => args.split(/\s+/));
    const stages = new Set(froms.flatMap((words) => (words[1]?.toUpperCase() === 'AS' ? [words[2]] : [])));
    const images = froms.map(([image]) => image!).filter((image) => !stages.has(image));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(image).toMatch(/^node:20(\.\d+)*(-[a-z0-9-]+)?$/);
  });

  it('runs as a non-root user and exposes every service port', () => {
    const user = all('USER').at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const exposed = all('EXPOSE').flatMap((args) =>
      args.split(/\s+/).map((port) => Number.parseInt(port, 10)),
    );
    expect(exposed).toEqual(expect.arrayContaining(Object.values(PORTS)));
  });

  it('starts through the entrypoint script, which names every service', () => {
    expect(all('ENTRYPOINT').join(' ')).toContain(entrypointScript);
    const script = read(entrypointScript);
    expect(script).toContain('subgraphs/');
    expect(script).toContain('gateway/src/index.ts');
    for (const name of SERVICES) expect(script, name).toMatch(new RegExp(`\\b${name}\\b`));
  });

  it('keeps local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const path of ['node_modules', '.data', '.git']) {
      expect(
        ignored.some((line) => line === path || line === `**/${path}`),
        path,
      ).toBe(true);
    }
  });

  describe('docker-entrypoint.sh', () => {
    // A stand-in `node` on PATH prints the arguments it was given instead of starting anything.
    const bin = mkdtempSync(join(tmpdir(), 'bilten-entrypoint-'));
    afterAll(() => rmSync(bin, { recursive: true, force: true }));
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "$@"\n');
    chmodSync(join(bin, 'node'), 0o755);
    const run = (service?: string) =>
      spawnSync('sh', [entrypointScript], {
        cwd: ROOT,
        env: { PATH: `${bin}:/usr/bin:/bin`, ...(service === undefined ? {} : { SERVICE: service }) },
        encoding: 'utf8',
      });

    it.each(SERVICES)('starts %s from its entry point, the one its npm start script uses', (service) => {
      const result = run(service);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const args = result.stdout.trim().split(/\s+/);
      expect(args.slice(0, 2)).toEqual(['--import', 'tsx']);
      const entry = posix.normalize(args[2] ?? '');
      expect(entry).toBe(entryPoint(service));
      expect(existsSync(join(ROOT, entry)), entry).toBe(true);
      const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
      expect(scripts[`start:${service}`]).toBe(`node --import tsx ${entryPoint(service)}`);
    });

    it('rejects an unknown or missing SERVICE, naming the valid ones', () => {
      for (const service of ['nope', '../gateway', '']) {
        const result = run(service);
        expect(result.status, service).not.toBe(0);
        expect(result.stdout, service).toBe('');
        for (const name of SERVICES) expect(result.stderr, service).toContain(name);
      }
      expect(run().status).not.toBe(0);
    });
  });
});

describe('k8s', () => {
  interface Probe {
    httpGet?: { path?: string; port?: number | string };
  }
  interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string } };
  }
  interface Container {
    name: string;
    image?: string;
    ports?: { name?: string; containerPort: number }[];
    env?: EnvVar[];
    envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
    readinessProbe?: Probe;
    livenessProbe?: Probe;
    startupProbe?: Probe;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    securityContext?: {
      allowPrivilegeEscalation?: boolean;
      readOnlyRootFilesystem?: boolean;
      runAsNonRoot?: boolean;
    };
  }
  interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; labels?: Record<string, string> };
    // biome-ignore lint/suspicious/noExplicitAny: manifests of many kinds, checked field by field
    spec?: any;
  }
  interface Kustomization {
    namespace?: string;
    resources?: string[];
    components?: string[];
    configMapGenerator?: { name: string; behavior?: string; literals?: string[] }[];
    images?: { name: string }[];
    replicas?: { name: string; count: number }[];
    patches?: { target?: { kind?: string; name?: string } }[];
  }

  const kustomization = (dir: string) => parse(read(`k8s/${dir}/kustomization.yaml`)) as Kustomization;
  const base = kustomization('base');
  const resources = base.resources ?? [];
  const loadProblems: string[] = [];
  const manifests: Manifest[] = resources.flatMap((resource) => {
    const path = `k8s/base/${resource}`;
    if (!existsSync(join(ROOT, path))) {
      loadProblems.push(`${path} is listed in resources but missing`);
      return [];
    }
    return parseAllDocuments(read(path)).flatMap((doc) => {
      if (!('errors' in doc)) return [];
      if (doc.errors.length > 0) {
        loadProblems.push(...doc.errors.map((error) => `${path}: ${error.message}`));
        return [];
      }
      return doc.contents === null ? [] : [doc.toJS() as Manifest];
    });
  });
  const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);
  const find = (kind: string, name: string) => {
    const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    if (!found) throw new Error(`k8s/base has no ${kind} "${name}"`);
    return found;
  };
  const literals = (k: Kustomization) =>
    Object.fromEntries(
      (k.configMapGenerator ?? []).flatMap((generator) =>
        (generator.literals ?? []).map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]),
      ),
    ) as Record<string, string>;
  const sharedConfig = base.configMapGenerator?.[0];
  const containerOf = (service: ServiceName): Container => {
    const containers = find('Deployment', service).spec.template.spec.containers as Container[];
    expect(containers, `${service}: containers`).toHaveLength(1);
    return containers[0]!;
  };
  /** The number a probe or Service targets, whether given as a number or a container port name. */
  const resolvePort = (container: Container, port: number | string | undefined) =>
    typeof port === 'string' ? container.ports?.find((p) => p.name === port)?.containerPort : port;

  it('lists only files that exist and parse, each object named and typed', () => {
    expect(resources.length).toBeGreaterThan(0);
    expect(loadProblems).toEqual([]);
    for (const m of manifests) {
      expect(m.apiVersion, JSON.stringify(m.metadata)).toBeTruthy();
      expect(m.kind, JSON.stringify(m.metadata)).toBeTruthy();
      expect(m.metadata?.name, m.kind).toBeTruthy();
    }
  });

  it('commits no Secret, and leaves the example out of the resources', () => {
    expect(ofKind('Secret')).toEqual([]);
    expect(resources).not.toContain('secret.example.yaml');
    expect(existsSync(join(ROOT, 'k8s/base/secret.example.yaml'))).toBe(true);
  });

  it('puts everything in the bilten namespace', () => {
    expect(base.namespace).toBe('bilten');
    find('Namespace', 'bilten');
  });

  it('has per service a Deployment, a Rollout of it and an active and a preview Service; per subgraph an event processor', () => {
    const names = (kind: string) => ofKind(kind).map((m) => m.metadata.name);
    const processors = SUBGRAPH_NAMES.map((name) => `${name}-events`);
    expect(names('Deployment').sort()).toEqual([...SERVICES, ...processors].sort());
    expect(names('Rollout').sort()).toEqual([...SERVICES].sort());
    expect(names('Service').sort()).toEqual([...SERVICES, ...SERVICES.map((s) => `${s}-preview`)].sort());
  });

  it('shares a ConfigMap of known variables whose URLs point at the subgraph Services', () => {
    expect(sharedConfig?.name).toBeTruthy();
    const config = literals(base);
    for (const key of Object.keys(config)) expect(ENV_NAMES, `ConfigMap: ${key}`).toContain(key);
    expectValidEnv(config, 'k8s ConfigMap');
    expect(config.NATS_URL).toBe('nats://nats:4222');
    for (const name of SUBGRAPH_NAMES) {
      expect(config[urlVar(name)], urlVar(name)).toBe(`http://${name}:${PORTS[name]}/graphql`);
    }
  });

  describe.each(SERVICES)('%s', (service) => {
    const port = PORTS[service];

    it('runs SERVICE on its port, with only variables it reads and values it accepts', () => {
      const container = containerOf(service);
      const env = container.env ?? [];
      for (const { name } of env)
        expect(envNamesOf(service), `${service}: unknown variable ${name}`).toContain(name);
      const values = Object.fromEntries(
        env.flatMap((v) => (v.value === undefined ? [] : [[v.name, v.value]])),
      );
      expect(values.SERVICE).toBe(service);
      expect(values[portVar(service)]).toBe(String(port));
      // The gateway's second port is its operations listener (/metrics), apart from the public one.
      const opsPort = service === 'gateway' ? [Number(values.GATEWAY_OPS_PORT)] : [];
      expect(container.ports?.map((p) => p.containerPort)).toEqual([port, ...opsPort]);
      expect(container.envFrom?.map((e) => e.configMapRef?.name)).toContain(sharedConfig?.name);
      expect(container.image).toBe(base.images?.[0]?.name);
      expectValidEnv({ ...literals(base), ...values }, `k8s ${service}`, SCHEMAS[service]);
    });

    it('probes /readyz and /livez on its own port, and has a startup probe', () => {
      const container = containerOf(service);
      const probes = [
        [container.readinessProbe, '/readyz'],
        [container.livenessProbe, '/livez'],
      ] as const;
      for (const [probe, path] of probes) {
        expect(probe?.httpGet?.path, path).toBe(path);
        expect(resolvePort(container, probe?.httpGet?.port), path).toBe(port);
      }
      expect(resolvePort(container, container.startupProbe?.httpGet?.port)).toBe(port);
    });

    it('is scraped by Prometheus where it serves /metrics: a subgraph on its port, the gateway on its operations port', () => {
      const annotations = find('Deployment', service).spec.template.metadata.annotations as Record<
        string,
        string
      >;
      const metricsPort = service === 'gateway' ? resolvePort(containerOf(service), 'ops') : port;
      expect(metricsPort).toBeDefined();
      expect(annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(metricsPort),
        'prometheus.io/path': '/metrics',
      });
    });

    it('is bounded, locked down and given time to drain', () => {
      const { spec } = find('Deployment', service).spec.template;
      const container = containerOf(service);
      for (const kind of ['requests', 'limits'] as const) {
        expect(Object.keys(container.resources?.[kind] ?? {}).sort(), kind).toEqual(['cpu', 'memory']);
      }
      expect(spec.securityContext?.runAsNonRoot ?? container.securityContext?.runAsNonRoot).toBe(true);
      expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(spec.terminationGracePeriodSeconds).toBe(15);
    });

    it('is selected by its Service on the same port', () => {
      const deployment = find('Deployment', service);
      const labels = deployment.spec.template.metadata.labels as Record<string, string>;
      expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
      const svc = find('Service', service);
      expect(Object.keys(svc.spec.selector).length).toBeGreaterThan(0);
      expect(labels).toMatchObject(svc.spec.selector);
      const ports = svc.spec.ports as { port: number; targetPort?: number | string }[];
      expect(ports.map((p) => p.port)).toEqual([port]);
      expect(resolvePort(containerOf(service), ports[0]?.targetPort ?? port)).toBe(port);
    });
  });

  it('reads DATABASE_URL of every subgraph from the bilten-database Secret', () => {
    for (const name of SUBGRAPH_NAMES) {
      const variable = containerOf(name).env?.find((v) => v.name === 'DATABASE_URL');
      expect(variable?.valueFrom?.secretKeyRef, name).toEqual({ name: 'bilten-database', key: 'url' });
    }
  });

  it('autoscales the gateway on CPU and keeps it available through disruptions', () => {
    const hpa = find('HorizontalPodAutoscaler', 'gateway');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      name: 'gateway',
    });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(hpa.spec.metrics).toContainEqual(
      expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
    );
    // The autoscaler owns the count; a `replicas` in the manifest would reset it on every apply. The
    // Deployment is the Rollout's template only (workloadRef) and keeps no pods itself.
    expect(find('Rollout', 'gateway').spec.replicas).toBeUndefined();
    expect(find('Deployment', 'gateway').spec.replicas).toBe(0);
    const pdb = find('PodDisruptionBudget', 'gateway');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(find('Deployment', 'gateway').spec.template.metadata.labels).toMatchObject(
      pdb.spec.selector.matchLabels,
    );
  });

  it('lets only the gateway (and Prometheus) reach the subgraphs and the gateway’s metrics, and the subgraphs reach identity for keys', () => {
    const podLabels = (service: ServiceName) =>
      find('Deployment', service).spec.template.metadata.labels as Record<string, string>;
    const selects = (
      selector: { matchLabels?: Record<string, string> } | undefined,
      labels: Record<string, string>,
    ) => Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
    const policies = ofKind('NetworkPolicy');
    expect(policies.every((p) => p.apiVersion === 'networking.k8s.io/v1')).toBe(true);
    // Which pods may open a connection to `service` on a port (its own by default), by the policies
    // that select it; none selecting it leaves it open, a rule without `from` admits everyone.
    const admits = (
      service: ServiceName,
      from: Record<string, string> | 'monitoring',
      port = PORTS[service],
    ) => {
      const selecting = policies.filter((p) => selects(p.spec.podSelector, podLabels(service)));
      return (
        !selecting.length ||
        selecting.some((p) =>
          (
            p.spec.ingress as Array<{
              from?: Array<Record<string, { matchLabels: Record<string, string> }>>;
              ports?: Array<{ port: number }>;
            }>
          ).some(
            (rule) =>
              (rule.ports === undefined || rule.ports.some((r) => r.port === port)) &&
              (rule.from === undefined ||
                rule.from.some((peer) =>
                  from === 'monitoring'
                    ? peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring'
                    : peer.podSelector !== undefined && selects(peer.podSelector, from),
                )),
          ),
        )
      );
    };
    // The gateway is the public door on its port; its operations port (/metrics) is Prometheus's alone.
    const stranger = { 'app.kubernetes.io/name': 'stranger' };
    const gatewayOps = resolvePort(containerOf('gateway'), 'ops')!;
    expect(admits('gateway', stranger), 'gateway from anyone').toBe(true);
    expect(admits('gateway', stranger, gatewayOps), 'gateway operations from anyone').toBe(false);
    expect(admits('gateway', 'monitoring', gatewayOps), 'gateway operations from Prometheus').toBe(true);
    for (const name of SUBGRAPH_NAMES) {
      expect(
        policies.some((p) => selects(p.spec.podSelector, podLabels(name))),
        name,
      ).toBe(true);
      expect(admits(name, podLabels('gateway')), `${name} from the gateway`).toBe(true);
      expect(admits(name, 'monitoring'), `${name} from Prometheus`).toBe(true);
      expect(admits(name, stranger), `${name} from a stranger`).toBe(false);
      expect(admits('identity', podLabels(name)), `identity from ${name}`).toBe(true);
      if (name !== 'identity')
        expect(admits(name, podLabels('identity')), `${name} from identity`).toBe(false);
    }
  });

  describe('cert-manager (the alternative to built-in ACME)', () => {
    const dir = 'k8s/cert-manager';
    const documents = (path: string) =>
      parseAllDocuments(read(path)).map((doc) => {
        expect(doc.errors, path).toEqual([]);
        return doc.toJS() as Manifest;
      });
    const listed = kustomization('cert-manager').resources ?? [];
    const issuers = listed.flatMap((resource) => documents(`${dir}/${resource}`));
    const [certificate, ingress] = documents(`${dir}/certificate.example.yaml`);

    it('lists ClusterIssuers for Let’s Encrypt that solve HTTP-01 through the ingress', () => {
      expect(listed).toContain('cluster-issuer.yaml');
      expect(listed).not.toContain('certificate.example.yaml');
      expect(issuers.length).toBeGreaterThan(0);
      for (const issuer of issuers) {
        expect(issuer.apiVersion).toBe('cert-manager.io/v1');
        expect(issuer.kind).toBe('ClusterIssuer');
        expect(issuer.spec.acme.server).toMatch(
          /^https:\/\/acme-(staging-)?v02\.api\.letsencrypt\.org\/directory$/,
        );
        expect(issuer.spec.acme.email).toMatch(/@/);
        expect(issuer.spec.acme.privateKeySecretRef.name).toBeTruthy();
        expect(issuer.spec.acme.solvers).toEqual([{ http01: { ingress: expect.any(Object) } }]);
      }
    });

    it('gives a per-domain Certificate of one of those issuers, served by an Ingress to the gateway', () => {
      expect(certificate).toMatchObject({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate' });
      expect(issuers.map((issuer) => issuer.metadata.name)).toContain(certificate!.spec.issuerRef.name);
      expect(certificate!.spec.issuerRef.kind).toBe('ClusterIssuer');
      const host = certificate!.spec.dnsNames[0];
      expect(ingress).toMatchObject({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' });
      expect(ingress!.spec.tls).toEqual([{ hosts: [host], secretName: certificate!.spec.secretName }]);
      expect(ingress!.spec.rules[0].host).toBe(host);
      const backend = ingress!.spec.rules[0].http.paths[0].backend.service;
      const gateway = find('Service', 'gateway').spec.ports[0];
      expect(backend).toEqual({ name: 'gateway', port: { number: gateway.port } });
      for (const object of [certificate!, ingress!])
        expect(object.metadata).toMatchObject({ namespace: base.namespace });
    });

    it('says when to use it and when built-in ACME or Caddy', () => {
      const readme = read(`${dir}/README.md`);
      for (const text of [
        'ACME_DIRECTORY_URL',
        '/internal/domains/allowed',
        'certificate.example.yaml',
        'cert-manager',
      ])
        expect(readme).toContain(text);
    });
  });

  describe('production TLS (docs/security.md, "TLS in transit")', () => {
    const k = kustomization('overlays/production');
    const config = { ...literals(base), ...literals(k) };
    const tlsObjects = parseAllDocuments(read('k8s/overlays/production/internal-tls.yaml')).map(
      (doc) => doc.toJS() as Manifest,
    );
    type Op = {
      op: string;
      path: string;
      value?: {
        name?: string;
        mountPath?: string;
        projected?: { sources?: Array<{ secret: { name: string } }> };
      };
    };
    const patchOf = (name: string) =>
      (k.patches ?? []).flatMap((patch) =>
        patch.target?.kind === 'Deployment' && new RegExp(`^(?:${patch.target.name})$`).test(name)
          ? (parse((patch as { patch: string }).patch) as Op[])
          : [],
      );

    it('calls every subgraph over https and verifies PostgreSQL, NATS and Redis', () => {
      expect(k.resources).toContain('internal-tls.yaml');
      for (const subgraph of SUBGRAPH_NAMES) expect(config[urlVar(subgraph)]).toMatch(/^https:\/\//);
      expect(config.AUTH_JWKS_URL).toMatch(/^https:\/\//);
      expect(config.NATS_URL).toMatch(/^tls:\/\//);
      for (const name of [
        'GATEWAY_TLS_CERT_FILE',
        'GATEWAY_TLS_KEY_FILE',
        'GATEWAY_SUBGRAPH_CA_FILE',
        'GATEWAY_SUBGRAPH_CLIENT_CERT_FILE',
        'GATEWAY_SUBGRAPH_CLIENT_KEY_FILE',
        'SUBGRAPH_TLS_CERT_FILE',
        'SUBGRAPH_TLS_KEY_FILE',
        'DATABASE_SSL_ROOT_CERT_FILE',
        'NATS_TLS_CA_FILE',
        'REDIS_TLS_CA_FILE',
      ])
        expect(config[name], name).toMatch(/^\/etc\/bilten\/tls\//);
      expect(read('k8s/base/secret.example.yaml')).toContain('sslmode=verify-full');
    });

    it.each(SERVICES)(
      '%s mounts its own cert-manager certificate, for its Service names, and probes over HTTPS',
      (service) => {
        const certificate = tlsObjects.find(
          (m) => m.kind === 'Certificate' && m.metadata.name === `${service}-tls`,
        );
        expect(certificate?.spec.secretName).toBe(`${service}-tls`);
        expect(certificate?.spec.dnsNames).toEqual(
          expect.arrayContaining([service, `${service}.bilten.svc`]),
        );
        expect(certificate?.spec.issuerRef.name).toBe('bilten-internal');
        const ops = patchOf(service);
        const volume = ops.find((op) => op.path === '/spec/template/spec/volumes/-')?.value;
        const sources = volume?.projected?.sources ?? [];
        expect(sources.map((source) => source.secret.name)).toEqual([`${service}-tls`, 'bilten-database-ca']);
        const mount = ops.find((op) => op.path === '/spec/template/spec/containers/0/volumeMounts/-')?.value;
        expect(mount).toMatchObject({ name: volume?.name, mountPath: '/etc/bilten/tls' });
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
          expect(ops).toContainEqual({
            op: 'add',
            path: `/spec/template/spec/containers/0/${probe}/httpGet/scheme`,
            value: 'HTTPS',
          });
      },
    );
  });

  describe.each(['local', 'staging', 'production'])('overlay %s', (overlay) => {
    const k = kustomization(`overlays/${overlay}`);

    it('builds on the base and only touches what the base and its components define', () => {
      expect(k.resources).toContain('../../base');
      // Every count is an autoscaler's (patched instead).
      expect(k.replicas ?? []).toEqual([]);
      const fromComponents = (k.components ?? []).flatMap((component) => {
        const dir = posix.join(`overlays/${overlay}`, component);
        return (kustomization(dir).resources ?? []).flatMap((file) =>
          parseAllDocuments(read(`k8s/${dir}/${file}`)).map((doc) => doc.toJS() as Manifest),
        );
      });
      // Targets name a kind and a name pattern (anchored, as kustomize matches them), or all of a kind.
      for (const { target } of k.patches ?? []) {
        const pattern = new RegExp(`^(?:${target?.name ?? '.*'})$`);
        expect(
          [...manifests, ...fromComponents].some(
            (m) => m.kind === target?.kind && pattern.test(m.metadata.name),
          ),
          JSON.stringify(target),
        ).toBe(true);
      }
      for (const { name } of k.images ?? []) expect(name).toBe(base.images?.[0]?.name);
      for (const generator of k.configMapGenerator ?? []) {
        expect(generator.name).toBe(sharedConfig?.name);
        expect(generator.behavior).toBe('merge');
      }
      const config = { ...literals(base), ...literals(k) };
      for (const key of Object.keys(config)) expect(ENV_NAMES, key).toContain(key);
      expectValidEnv(config, `overlay ${overlay}`);
    });
  });
});
