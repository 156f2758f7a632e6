import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import {
  hostOf,
  isAllowedHost,
  isInternalAddress,
  parseTargetUrl,
  type TargetPolicy,
} from '../domain/webhook-targets.ts';

/** One signed POST of a webhook body to an endpoint. */
export interface WebhookRequest {
  url: string;
  /** `webhook-id`. */
  messageId: string;
  body: string;
  /** `whsec_…` secrets, each adding a signature: the current one, then a rotated one in its grace. */
  secrets: string[];
}

export interface WebhookAnswer {
  /** The endpoint's HTTP status; null when it did not answer (refused, unreachable, timed out). */
  status: number | null;
  /** What went wrong, one line; for an answer, the start of its body. */
  detail: string | null;
  /** The target may not be reached at all (SSRF rule): retrying cannot help. */
  refused: boolean;
  durationMs: number;
}

export interface WebhookSender {
  send(request: WebhookRequest): Promise<WebhookAnswer>;
}

/** The most of an answer's body read: enough for an error message, never a download. */
const MAX_ANSWER_BYTES = 4_096;

/** The `webhook-signature` header: `v1,<base64>` per secret, space-separated (Standard Webhooks). */
export const signatureHeader = (secrets: string[], messageId: string, at: Date, body: string) =>
  secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' ');

class RefusedTarget extends Error {
  override name = 'RefusedTarget';
}

/**
 * A resolver for the connection that refuses internal addresses: the addresses checked are the
 * ones connected to, so a name that resolved to a public address when the endpoint was saved and
 * to an internal one now (DNS rebinding) is refused. Allowed hosts are not checked.
 */
function checkedLookup(allowed: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      if (!allowed && addresses.some((entry) => isInternalAddress(entry.address)))
        return callback(
          new RefusedTarget(`refused: ${hostname} resolves to a private, loopback or link-local address`),
          '',
          4,
        );
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} does not resolve`), '', 4);
      if (options.all)
        return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * Posts webhooks with Node's own HTTP client: no redirect is followed (a 3xx is a failed
 * attempt), the whole exchange ends after `timeoutMs`, at most 4 KB of the answer are read, and
 * the target is checked against the SSRF rule on the address it connects to.
 */
export function createWebhookSender({
  policy,
  timeoutMs,
}: {
  policy: TargetPolicy;
  timeoutMs: number;
}): WebhookSender {
  return {
    async send(request) {
      const started = Date.now();
      const answer = (status: number | null, detail: string | null, refused = false): WebhookAnswer => ({
        status,
        detail,
        refused,
        durationMs: Date.now() - started,
      });
      const parsed = parseTargetUrl(request.url, policy);
      if ('problem' in parsed) return answer(null, `refused: the URL ${parsed.problem}`, true);
      const { url } = parsed;
      const host = hostOf(url);
      const allowed = isAllowedHost(policy, host);
      // An address in the URL is connected to without a lookup: check it here.
      if (isIP(host) && !allowed && isInternalAddress(host))
        return answer(null, 'refused: a private, loopback or link-local address', true);
      const at = new Date();
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'Bilten-Webhooks/1',
        'webhook-id': request.messageId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatureHeader(request.secrets, request.messageId, at, request.body),
      };
      try {
        const { status, text } = await post(url, headers, request.body, checkedLookup(allowed), timeoutMs);
        return answer(status, text ? oneLine(text) : null);
      } catch (err) {
        const refused = err instanceof RefusedTarget;
        return answer(null, oneLine((err as Error).message || String(err)), refused);
      }
    },
  };
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 300);

function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  lookup: LookupFunction,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup,
      // A connection of its own per attempt: every one is checked by `lookup`.
      agent: false,
    });
    const timer = setTimeout(
      () => request.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      };
      response.on('data', (chunk: Buffer) => {
        if (size >= MAX_ANSWER_BYTES) return;
        chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size));
        size += chunk.length;
        if (size >= MAX_ANSWER_BYTES) {
          // Enough read: the rest is not waited for.
          finish();
          response.destroy();
        }
      });
      response.on('end', finish);
      // Cut off mid-answer: what came is enough.
      response.on('close', finish);
    });
    request.end(body);
  });
}

/** `messaging_webhook_deliveries_total{status}` on messaging's `/metrics`: one count per attempt's outcome. */
export function createWebhookMetrics(registry: Registry): (outcome: string) => void {
  const counter = new Counter({
    name: 'messaging_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retried, failed, refused, gone)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  return (status) => counter.inc({ status });
}
