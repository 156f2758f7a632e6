import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, freePort } from '@bilten/testkit';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Runs an entry point the way `npm run start:<service>` does until /readyz answers, then `act`,
 * then SIGTERM; returns everything it wrote, as written.
 */
async function runService(
  script: string,
  env: Record<string, string>,
  port: number,
  act: () => Promise<void> = async () => {},
) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    // Nothing inherited but the basics: what the machine running the tests has set plays no part.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  try {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${script} exited before it was up:\n${stdout}${stderr}`);
      if (Date.now() - started > 60_000) throw new Error(`${script} not up within 60 s:\n${stdout}${stderr}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await act();
    child.kill('SIGTERM');
    const [code] = await exited;
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('what a service process writes', () => {
  it('the gateway alone: probes no cloud metadata server, so warns of none on stderr', async () => {
    // A metadata server that answers 403, as a proxy in front of 169.254.169.254 may: gcp-metadata
    // (under @apollo/gateway's usage reporting) answers that with a MetadataLookupWarning.
    const probes: string[] = [];
    const metadata = createServer((request, response) => {
      probes.push(`${request.method} ${request.url}`);
      response.writeHead(403).end('forbidden');
    });
    metadata.listen(0, '127.0.0.1');
    await once(metadata, 'listening');
    try {
      const port = await freePort();
      const gateway = await runService(
        'gateway/src/index.ts',
        {
          GATEWAY_PORT: String(port),
          GCE_METADATA_HOST: `127.0.0.1:${(metadata.address() as AddressInfo).port}`,
        },
        port,
        // Long enough for a probe started with the gateway to have been answered.
        () => new Promise((resolve) => setTimeout(resolve, 500)),
      );
      expect(gateway.code).toBe(0);
      expect(gateway.stderr).not.toMatch(/Warning/);
      expect(probes).toEqual([]);
    } finally {
      metadata.close();
    }
  }, 90_000);

  it('a subgraph alone: JSON lines on stdout, each naming its service once', async () => {
    const database = await createTestDatabase();
    try {
      const port = await freePort();
      const branding = await runService(
        'subgraphs/branding/src/index.ts',
        { DATABASE_URL: database.url, BRANDING_PORT: String(port), LOG_LEVEL: 'info' },
        port,
        async () => {
          // One request, so lines logged while serving one are among them.
          const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': 'process-output-1' },
            body: JSON.stringify({ query: '{ __typename }' }),
          });
          expect(response.status).toBe(200);
        },
      );
      expect(branding.code).toBe(0);
      const lines = branding.stdout.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(3);
      expect(lines.some((line) => line.includes('"requestId":"process-output-1"'))).toBe(true);
      for (const line of lines) {
        expect(JSON.parse(line), line).toBeTypeOf('object');
        expect(line.match(/"service":/g), line).toHaveLength(1);
        expect(line, line).toContain('"service":"branding"');
      }
    } finally {
      await database.drop();
    }
  }, 90_000);
});
