/**
 * The latency SLO alert, end to end: Debian's `prometheus` scrapes a running stack every second with
 * the rules of k8s/monitoring (every range and `for` shortened 60-fold, 5 s at least, generated from
 * the real files), `prometheus-alertmanager` routes with k8s/monitoring/alertmanager.yml (its webhook
 * pointed at the stack's identity, a second one at a receiver here, its mail at the stack's SMTP
 * server). A proxy delays catalog's answers to a gateway by 1 s, GraphQL traffic goes through that
 * gateway, and the gateway's BiltenSLOLatencyFastBurn must reach the receiver (with the bearer
 * token), the mailbox and a platform admin's in-app notifications.
 * .ci/run installs both binaries; without them this file is skipped.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGateway, startGateway } from '@bilten/gateway';
import { createServiceMetrics } from '@bilten/platform';
import {
  captureLogs,
  type FaultProxy,
  freePort,
  type SignedInUser,
  startFaultProxy,
  waitFor,
} from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { gatewayCall, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

const MONITORING = new URL('../../k8s/monitoring/', import.meta.url).pathname;
const installed = ['prometheus', 'prometheus-alertmanager'].every(
  (binary) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0,
);
if (!installed)
  console.warn(
    'alerts-e2e skipped: prometheus and prometheus-alertmanager are not installed (.ci/run installs them)',
  );

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** A Prometheus duration 60 times shorter, 5 s at least (rate() wants a few 1 s scrapes). */
function shortened(duration: string): string {
  const seconds = [...duration.matchAll(/(\d+)([smhdw])/g)].reduce(
    (sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit!]!,
    0,
  );
  return seconds === 0 ? duration : `${Math.max(5, Math.round(seconds / 60))}s`;
}

/** A rule file with every range selector and `for` shortened; nothing else changes. */
function shortenedRules(text: string): string {
  const file = parse(text) as { groups: { rules: { expr: string; for?: string }[] }[] };
  for (const group of file.groups) {
    for (const rule of group.rules) {
      rule.expr = rule.expr.replace(
        /\[(\d+[smhdw](?:\d+[smhdw])*)\]/g,
        (_, d: string) => `[${shortened(d)}]`,
      );
      if (rule.for) rule.for = shortened(rule.for);
    }
  }
  return stringify(file);
}

/** identity's ALERTMANAGER_WEBHOOK_TOKEN (32 characters at least). */
const TOKEN = 'alertmanager-test-token-of-32-characters';

interface Delivery {
  authorization?: string;
  body: { status: string; alerts: { status: string; labels: Record<string, string> }[] };
}

describe.skipIf(!installed)('alerts, end to end', () => {
  let stack: TestStack;
  let proxy: FaultProxy;
  let gateway: RunningGateway;
  let receiver: Server;
  let admin: SignedInUser;
  const deliveries: Delivery[] = [];
  const processes: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'alerts-e2e-'));
  let prometheusUrl: string;

  beforeAll(async () => {
    stack = await startTestStack('in-process', { env: { ALERTMANAGER_WEBHOOK_TOKEN: TOKEN } });
    admin = await stack.signUpAdmin();
    const catalog = new URL(stack.subgraphs.catalog.url);
    proxy = await startFaultProxy({ host: catalog.hostname, port: Number(catalog.port) });
    gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {
        ...Object.fromEntries(Object.values(stack.subgraphs).map(({ name, url }) => [name, url])),
        catalog: `http://127.0.0.1:${proxy.port}${catalog.pathname}`,
      },
      limits: TEST_LIMITS,
      blockFieldSuggestions: false,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
      operations: { host: '127.0.0.1', port: 0 },
    });

    receiver = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk) => (text += chunk));
      request.on('end', () => {
        deliveries.push({ authorization: request.headers.authorization, body: JSON.parse(text) });
        response.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');

    // The rules, shortened.
    for (const file of ['prometheus-rules.yaml', 'slo-rules.yaml']) {
      writeFileSync(join(dir, file), shortenedRules(readFileSync(join(MONITORING, file), 'utf8')));
    }
    const targets = [new URL(gateway.operationsUrl!).host, catalog.host];
    const [promPort, amPort, amClusterPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ['prometheus-rules.yaml', 'slo-rules.yaml'],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{ job_name: 'bilten', static_configs: [{ targets }] }],
      }),
    );

    // Alertmanager's configuration, pointed at this stack's identity, this test's receiver and
    // mailbox, waiting 1 s at most.
    const config = parse(readFileSync(join(MONITORING, 'alertmanager.yml'), 'utf8'));
    const smtp = new URL(stack.smtp.url);
    config.global = {
      ...config.global,
      smtp_smarthost: smtp.host,
      smtp_require_tls: false,
      smtp_auth_username: undefined,
      smtp_auth_password_file: undefined,
    };
    config.templates = [join(MONITORING, '*.tmpl')];
    config.route = { ...config.route, group_wait: '0s', group_interval: '1s' };
    for (const route of config.route.routes) route.group_wait = '0s';
    const [platformAdmins] = config.receivers;
    const [identityWebhook] = platformAdmins.webhook_configs;
    identityWebhook.url = new URL('/internal/alertmanager', stack.subgraphs.identity.url).href;
    identityWebhook.http_config.authorization.credentials_file = join(dir, 'token');
    platformAdmins.webhook_configs.push({
      ...identityWebhook,
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
    });
    writeFileSync(join(dir, 'token'), TOKEN);
    writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));

    const start = (binary: string, args: string[]) => {
      const child = spawn(binary, args, { cwd: dir, stdio: 'ignore' });
      processes.push(child);
    };
    start('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    start('prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      `--cluster.listen-address=127.0.0.1:${amClusterPort}`,
    ]);
    prometheusUrl = `http://127.0.0.1:${promPort}`;
    await until(async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.ok === true, 20_000);
    await until(
      async () => (await fetch(`http://127.0.0.1:${amPort}/-/ready`).catch(() => null))?.ok === true,
      20_000,
    );
  }, 90_000);

  afterAll(async () => {
    for (const child of processes) child.kill();
    await Promise.all(processes.map((child) => (child.exitCode === null ? once(child, 'exit') : null)));
    await gateway?.stop();
    await proxy?.close();
    receiver?.close();
    await stack?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shortens every window and `for`, and only those', () => {
    const rules = shortenedRules(readFileSync(join(MONITORING, 'slo-rules.yaml'), 'utf8'));
    expect(rules).toContain('[60s]');
    expect(rules).toContain('[5s]');
    expect(rules).toContain('[4320s]');
    expect(rules).not.toMatch(/\[\d+[mhd]\]/);
    expect(rules).toContain('le="0.25"');
    expect(rules).toContain('14.4 * 0.005');
  });

  it('a slow subgraph behind the gateway fires the latency alert: webhook, mail and in-app', async () => {
    proxy.delay(1_000);
    const stopAt = Date.now() + 60_000;
    let traffic = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (traffic && Date.now() < stopAt) {
        await fetch(gateway.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'query Events { events(first: 1) { edges { cursor } } }' }),
        }).then((response) => response.text());
      }
    });
    try {
      const firing = () =>
        deliveries.find((delivery) =>
          delivery.body.alerts.some(
            (alert) =>
              alert.status === 'firing' &&
              alert.labels.alertname === 'BiltenSLOLatencyFastBurn' &&
              alert.labels.service === 'gateway',
          ),
        );
      await until(() => firing() !== undefined, 55_000);
      expect(firing()!.authorization).toBe(`Bearer ${TOKEN}`);
      const mail = await stack.smtp.waitForMessage(
        (m) => /BiltenSLOLatencyFastBurn/.test(m.parsed.subject ?? ''),
        10_000,
      );
      expect(mail.parsed.subject).toMatch(/^\[FIRING:1\] BiltenSLOLatencyFastBurn \(gateway\)/);
      expect(mail.parsed.text).toContain('k8s/monitoring/README.md#biltenslolatencyfastburn');
      // Through identity's webhook (it names the admins) and messaging: the admin's in-app notification.
      const NOTIFICATIONS = `query { me { notifications(first: 20) { edges { node { kind subject body } } } } }`;
      type Inbox = {
        me: { notifications: { edges: Array<{ node: { kind: string; subject: string; body: string } }> } };
      };
      const inApp = await waitFor(async () => {
        const { me } = await gatewayCall<Inbox>(stack, NOTIFICATIONS, {}, admin.headers);
        return me.notifications.edges.find(
          ({ node }) =>
            node.kind === 'PLATFORM_ALERT' && node.subject.includes('BiltenSLOLatencyFastBurn in gateway'),
        )?.node;
      }, 15_000);
      expect(inApp.subject).toBe('Firing (critical): BiltenSLOLatencyFastBurn in gateway');
      expect(inApp.body).toContain('k8s/monitoring/README.md#biltenslolatencyfastburn');
      // The delay made nearly every operation slow (a loaded machine alone makes some slow, not 90 %),
      // and at the gateway, not in catalog, which answers before the proxy holds its answer back.
      const [gatewaySlow] = await query('service:slo_slow_operations:ratio_rate5m{service="gateway"}');
      const [catalogSlow] = await query('service:slo_slow_operations:ratio_rate5m{service="catalog"}');
      expect(gatewaySlow).toBeGreaterThan(0.9);
      expect(catalogSlow).toBeLessThan(gatewaySlow!);
    } finally {
      traffic = false;
      await Promise.all(clients);
    }
  }, 110_000);

  it('every dashboard panel is a query Prometheus accepts, on metrics the platform defines', async () => {
    const { registry } = createServiceMetrics('test');
    const defined = new Set(
      (await registry.getMetricsAsJSON()).flatMap(({ name, type }) =>
        String(type) === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      ),
    );
    for (const file of ['prometheus-rules.yaml', 'slo-rules.yaml']) {
      const rules = parse(readFileSync(join(MONITORING, file), 'utf8')) as {
        groups: { rules: { record?: string }[] }[];
      };
      for (const rule of rules.groups.flatMap((group) => group.rules))
        if (rule.record) defined.add(rule.record);
    }
    const dashboards = readdirSync(join(MONITORING, 'dashboards')).filter((name) => name.endsWith('.json'));
    expect(dashboards.sort()).toEqual(['event-pipeline.json', 'on-sale.json', 'payments.json', 'red.json']);
    for (const name of dashboards) {
      const dashboard = JSON.parse(readFileSync(join(MONITORING, 'dashboards', name), 'utf8')) as {
        panels: { title: string; targets: { expr: string }[] }[];
      };
      expect(dashboard.panels.length, name).toBeGreaterThan(0);
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets) {
          const where = `${name} / ${panel.title}: ${expr}`;
          // Every selector has braces (a convention of these files), so the names are easy to find.
          const names = [...expr.matchAll(/([A-Za-z_:][\w:]*)\s*\{/g)].map(([, metric]) => metric!);
          expect(names.length, where).toBeGreaterThan(0);
          for (const metric of names) expect([...defined], where).toContain(metric);
          // Grafana's variables as Grafana would fill them in.
          const concrete = expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.+');
          const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(concrete)}`);
          const body = (await response.json()) as { status: string; error?: string };
          expect(body.error ?? body.status, where).toBe('success');
        }
      }
    }
  });

  async function query(expr: string): Promise<number[]> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
    return body.data.result.map((sample) => Number(sample.value[1]));
  }
});

/** Polls `check` every 200 ms until it holds, or fails after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
