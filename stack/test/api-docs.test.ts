/**
 * Issue 16: the REST reference (/api/docs, Swagger UI) and the offline GraphQL explorer
 * (/graphiql, GraphiQL), opened in Debian's headless Chromium the way a person would: the pages
 * render the API, every request they make stays on the gateway (other hosts do not even resolve),
 * and nothing is refused by their CSP. Chromium is driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`), so the test sees each request and console error. Screenshots are
 * kept in `.data/artifacts/`. Without `chromium` on the PATH the test fails: CI installs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { startGateway } from '@bilten/gateway';
import { captureLogs, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { gatewayCall, publishedEvent, startTestStack, TEST_LIMITS, type TestStack } from './support.ts';

const ARTIFACTS = new URL('../../.data/artifacts/', import.meta.url);

type Params = Record<string, unknown>;
type Listener = (method: string, params: Params) => void;

/** A headless Chromium and its DevTools protocol: JSON messages ending in NUL, on fds 3 (in) and 4 (out). */
class Chromium {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: Params): void; reject(error: Error): void }>();
  private readonly listeners = new Map<string, Listener>();
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let buffered = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
        this.receive(JSON.parse(buffered.slice(0, end)));
        buffered = buffered.slice(end + 1);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.once('exit', (code) => {
      for (const call of this.pending.values())
        call.reject(new Error(`chromium exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'bilten-chromium-'));
    const child = spawn(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        // Offline: no host but the gateway's resolves, whatever a page asks for.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
        '--window-size=1280,900',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new Error(`cannot run chromium (apt-get install chromium; .ci/run does): ${err.message}`)),
      );
    });
    const browser = new Chromium(child, profile);
    await browser.send('Browser.getVersion');
    return browser;
  }

  private receive(message: {
    id?: number;
    method?: string;
    params?: Params;
    sessionId?: string;
    result?: Params;
    error?: { message: string };
  }) {
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) call?.reject(new Error(message.error.message));
      else call?.resolve(message.result ?? {});
    } else if (message.method && message.sessionId) {
      this.listeners.get(message.sessionId)?.(message.method, message.params ?? {});
    }
  }

  send(method: string, params: Params = {}, sessionId?: string): Promise<Params> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  }

  /** A new tab at `url`, recording every request it makes and every error it logs. */
  async open(url: string) {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    const requests: string[] = [];
    const errors: string[] = [];
    this.listeners.set(sessionId, (method, params) => {
      if (method === 'Network.requestWillBeSent') requests.push((params.request as { url: string }).url);
      if (method === 'Network.webSocketCreated') requests.push(params.url as string);
      if (method === 'Log.entryAdded') {
        const entry = params.entry as { level: string; text: string; url?: string };
        if (entry.level === 'error') errors.push(`${entry.text} ${entry.url ?? ''}`.trim());
      }
      if (method === 'Runtime.exceptionThrown')
        errors.push(JSON.stringify((params.exceptionDetails as Params).exception ?? params));
      if (method === 'Runtime.consoleAPICalled' && params.type === 'error')
        errors.push(JSON.stringify(params.args));
    });
    const send = (method: string, params: Params = {}) => this.send(method, params, sessionId);
    for (const domain of ['Network', 'Log', 'Runtime', 'Page']) await send(`${domain}.enable`);
    await send('Emulation.setDeviceMetricsOverride', {
      width: 1280,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    await send('Page.navigate', { url });
    return {
      requests,
      errors,
      /** The value of a browser expression (awaited when a promise). */
      async evaluate<T>(expression: string): Promise<T> {
        const { result, exceptionDetails } = (await send('Runtime.evaluate', {
          expression,
          returnByValue: true,
          awaitPromise: true,
        })) as { result: { value: T }; exceptionDetails?: unknown };
        if (exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(exceptionDetails)}`);
        return result.value;
      },
      /** Waits for `expression` to be truthy; an error the page logs meanwhile fails at once. */
      async until<T>(expression: string, timeoutMs = 45_000): Promise<T> {
        return waitFor(async () => {
          if (errors.length) throw new Error(`the page logged errors:\n${errors.join('\n')}`);
          return this.evaluate<T>(expression);
        }, timeoutMs);
      },
      async screenshot(name: string) {
        const { data } = (await send('Page.captureScreenshot', { format: 'png' })) as { data: string };
        mkdirSync(ARTIFACTS, { recursive: true });
        const file = new URL(name, ARTIFACTS);
        writeFileSync(file, Buffer.from(data, 'base64'));
        return file;
      },
    };
  }

  async close() {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.exitCode === null) {
      await this.send('Browser.close').catch(() => {});
      await exited;
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

let stack: TestStack;
let origin: string;
let browser: Chromium;

beforeAll(async () => {
  // First: without chromium, fail before starting anything.
  browser = await Chromium.launch();
  stack = await startTestStack('in-process');
  origin = new URL(stack.url).origin;
});

afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
});

/** Requests (and websockets) a page opened to anywhere but the gateway; inline `data:` images and fonts are in the page. */
const elsewhere = (requests: string[]) =>
  requests.filter((url) => !url.startsWith('data:') && new URL(url).host !== new URL(origin).host);

describe('/api/docs', () => {
  it('renders every operation of the OpenAPI document from the gateway alone', async () => {
    const document = (await (await fetch(`${origin}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { summary: string }>>;
    };
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, { summary }]) => `${method} ${path}: ${summary}`),
    );
    expect(documented.length).toBeGreaterThan(10);

    const page = await browser.open(`${origin}/api/docs`);
    try {
      // Every operation's block: method, path (deprecated ones too) and summary.
      const rendered = await page.until<string[]>(
        `((all) => all.length >= ${documented.length} && all)([...document.querySelectorAll('.opblock')].map((block) =>
          block.querySelector('.opblock-summary-method')?.textContent.toLowerCase() + ' ' +
          block.querySelector('.opblock-summary [data-path]')?.getAttribute('data-path') + ': ' +
          block.querySelector('.opblock-summary-description')?.textContent))`,
      );
      expect(new Set(rendered)).toEqual(new Set(documented));
      expect(await page.evaluate<string>(`document.querySelector('.info .title')?.textContent`)).toMatch(
        /Bilten/,
      );
    } finally {
      await page.screenshot('api-docs.png');
    }
    expect(page.requests).toContain(`${origin}/api/v1/openapi.json`);
    expect(elsewhere(page.requests)).toEqual([]);
    expect(page.errors).toEqual([]);

    // Neither recorder is idle: a request to another host is refused by the CSP and logged.
    const refused = await page.evaluate<string>(
      `fetch('https://cdn.example.com/x.js').then(() => 'fetched', (err) => String(err))`,
    );
    expect(refused).toMatch(/TypeError/);
    await waitFor(async () => page.errors.some((error) => /Content Security Policy/.test(error)));
  }, 120_000);
});

describe('/graphiql', () => {
  it('introspects /graphql, shows the schema, runs a query and a subscription, offline', async () => {
    const { eventId, ticketTypeId } = await publishedEvent(stack, 'graphiql-org', {
      title: 'Explorer Night',
    });
    const page = await browser.open(`${origin}/graphiql`);
    try {
      // The docs open on the schema's root types once introspection answered.
      await page.until(
        `/Root Types[\\s\\S]*query/.test(document.querySelector('.graphiql-doc-explorer')?.innerText)`,
      );
      expect(
        await page.evaluate(`document.querySelectorAll('.graphiql-query-editor .CodeMirror').length`),
      ).toBe(1);
      await page.evaluate(`document.querySelector('.graphiql-execute-button').click()`);
      const response = await page.until<string>(
        `/"data"/.test(document.querySelector('.graphiql-response')?.innerText) &&
          document.querySelector('.graphiql-response').innerText`,
      );
      expect(response).toContain('Explorer Night');
      expect(response).toContain(eventId);
      await page.screenshot('graphiql-query.png');

      // A subscription over graphql-ws (same path): the current state, then the next after a sale.
      await waitFor(async () => {
        const { event } = await gatewayCall<{ event: { availability: unknown } }>(
          stack,
          `query($id: ID!) { event(id: $id) { availability { remaining } } }`,
          { id: eventId },
          {},
        );
        return event.availability;
      });
      const subscription = `subscription Availability { ticketAvailability(eventId: "${eventId}") { availability { remaining } } }`;
      const editor = `document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror`;
      await page.evaluate(`${editor}.setValue(${JSON.stringify(subscription)})`);
      // GraphiQL reads the operation from the text after a short debounce, as when someone types.
      await page.until(`${editor}.operationName === 'Availability'`);
      await page.evaluate(`document.querySelector('.graphiql-execute-button').click()`);
      const remaining = `document.querySelector('.graphiql-response')?.innerText.match(/"remaining": (\\d+)/)?.[1]`;
      expect(await page.until(`${remaining} === '10'`)).toBe(true);
      const buyer = await stack.signUp();
      await gatewayCall(
        stack,
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
        buyer.headers,
      );
      expect(await page.until(`${remaining} === '9'`)).toBe(true);
    } finally {
      await page.screenshot('graphiql-subscription.png');
    }
    // Introspection and the query, both to the gateway's own /graphql; the subscription's socket too.
    expect(page.requests.filter((url) => url === `${origin}/graphql`).length).toBeGreaterThanOrEqual(2);
    expect(page.requests).toContain(`${origin.replace(/^http/, 'ws')}/graphql`);
    expect(elsewhere(page.requests)).toEqual([]);
    expect(page.errors).toEqual([]);
  }, 120_000);
});

describe('pages and assets over HTTP', () => {
  it('serve pages with a same-origin CSP and no inline code', async () => {
    for (const path of ['/api/docs', '/graphiql']) {
      const response = await fetch(`${origin}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/style-src 'self'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/unsafe|https?:/);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      const html = await response.text();
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son\w+=/i);
      expect(html).not.toMatch(/https?:\/\//);
    }
  });

  it('cache versioned assets for a year, revalidate with ETag, gzip when asked', async () => {
    const html = await (await fetch(`${origin}/api/docs`)).text();
    const href = /src="(docs\/assets\/swagger-ui-bundle\.js\?v=[\w-]+)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const url = `${origin}/api/${href}`;
    const first = await fetch(url, { headers: { 'accept-encoding': 'gzip' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const body = await first.text();
    expect(body).toBe(
      readFileSync(
        new URL('../../node_modules/swagger-ui-dist/swagger-ui-bundle.js', import.meta.url),
        'utf8',
      ),
    );
    const etag = first.headers.get('etag')!;
    const again = await fetch(url, { headers: { 'if-none-match': `W/${etag}` } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    const plain = await fetch(url, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(Number(plain.headers.get('content-length'))).toBe(Buffer.byteLength(body));

    // Unversioned (or an old version): served, but checked again every time.
    const unversioned = await fetch(`${origin}/api/docs/assets/swagger-ui-bundle.js?v=old`);
    expect(unversioned.headers.get('cache-control')).toBe('public, no-cache');
    await unversioned.arrayBuffer();

    for (const path of [
      '/api/docs/assets/package.json',
      '/api/docs/assets/..%2F..%2Fpackage.json',
      '/api/docs/assets/constructor',
      '/api/docs/assets/graphiql.min.js',
    ])
      expect((await fetch(`${origin}${path}`)).status, path).toBe(404);
  });

  it('serve /graphiql only where introspection is on; /api/docs always', async () => {
    const gateway = await startGateway({
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {},
      limits: TEST_LIMITS,
      blockFieldSuggestions: true,
      log: captureLogs('gateway').log,
      host: '127.0.0.1',
      port: 0,
      sandbox: false,
    });
    try {
      const base = new URL(gateway.url).origin;
      expect((await fetch(`${base}/graphiql`)).status).toBe(404);
      expect((await fetch(`${base}/graphiql/assets/graphiql.min.js`)).status).toBe(404);
      expect((await fetch(`${base}/api/docs`)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });
});
