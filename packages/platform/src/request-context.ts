import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';

export interface RequestContext {
  requestId: string;
  traceparent: string;
}

/** Carries the correlation id through every await of a request, so every log line can name it. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequest(): RequestContext | undefined {
  return requestContext.getStore();
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A client's id is kept only when it is short and harmless; otherwise a fresh one is made. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** The caller's W3C trace context, or the start of a new trace, so every hop shares a trace id. */
export function traceparentFrom(header: unknown): string {
  if (typeof header === 'string' && TRACEPARENT.test(header)) return header;
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}
