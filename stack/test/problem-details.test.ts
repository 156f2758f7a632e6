/**
 * Issue 16, standard errors: RFC 9457 problem details, one mapping from our codes (and the GraphQL
 * ones the gateway passes on) to a status, a title and a documented type URI.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  gatewayEnv,
  gatewayOptionsFromEnv,
  PROBLEM_KINDS,
  type ProblemCode,
  problemOf,
  type RunningGateway,
  sendProblem,
  startGateway,
} from '@bilten/gateway';
import { ERROR_CODES, parseEnv } from '@bilten/platform';
import { captureLogs } from '@bilten/testkit';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { SUPERGRAPH_SDL_PATH } from '../src/stack.ts';
import { internalsIn } from './support.ts';

/** What `createErrorFormatter` lets through besides ERROR_CODES (packages/platform/src/errors.ts). */
const GRAPHQL_CODES = [
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
] as const;

describe('the mapping', () => {
  it('gives every code a client can see a status, a title and its own documented type', () => {
    const codes: ProblemCode[] = [...ERROR_CODES, ...GRAPHQL_CODES];
    expect(Object.keys(PROBLEM_KINDS).sort()).toEqual([...codes].sort());
    for (const code of codes) {
      const { status, title, type } = PROBLEM_KINDS[code];
      expect(status).toBeGreaterThanOrEqual(400);
      expect(title).not.toBe('');
      expect(type).toBe(`https://docs.bilten.dev/errors/${code.toLowerCase().replaceAll('_', '-')}`);
    }
    expect(
      Object.fromEntries(
        (
          [
            'UNAUTHENTICATED',
            'FORBIDDEN',
            'NOT_FOUND',
            'BAD_USER_INPUT',
            'CONFLICT',
            'RATE_LIMITED',
            'INTERNAL',
            'UNAVAILABLE',
          ] as const
        ).map((code) => [code, PROBLEM_KINDS[code].status]),
      ),
    ).toEqual({
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      BAD_USER_INPUT: 400,
      CONFLICT: 409,
      RATE_LIMITED: 429,
      INTERNAL: 500,
      UNAVAILABLE: 503,
    });
    // Only our failures are a 5xx (unexpected, or a dependency out of reach): every code a client's request can cause is a 4xx.
    expect(codes.filter((code) => PROBLEM_KINDS[code].status >= 500)).toEqual(['INTERNAL', 'UNAVAILABLE']);
  });

  it('builds the body: field errors only for validation', () => {
    expect(problemOf({ code: 'NOT_FOUND', detail: 'No event 7.', instance: 'req-1' })).toEqual({
      type: 'https://docs.bilten.dev/errors/not-found',
      title: 'Not found',
      status: 404,
      detail: 'No event 7.',
      instance: 'req-1',
      code: 'NOT_FOUND',
    });
    const errors = [{ path: ['body', 'startsAt'], code: 'INVALID_INPUT', message: 'must be a date-time' }];
    expect(
      problemOf({ code: 'BAD_USER_INPUT', detail: 'The body is invalid.', instance: 'req-2', errors }),
    ).toEqual(expect.objectContaining({ status: 400, errors }));
    expect(
      problemOf({ code: 'BAD_USER_INPUT', detail: 'x', instance: 'req-3', errors: [] }),
    ).not.toHaveProperty('errors');
  });
});

describe('on the wire', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('sendProblem answers application/problem+json with the problem status', async () => {
    const app = Fastify();
    app.get('/thing', (request, reply) =>
      sendProblem(
        reply,
        problemOf({
          code: 'BAD_USER_INPUT',
          detail: 'The query is invalid.',
          instance: request.id,
          errors: [{ path: ['query', 'limit'], code: 'INVALID_INPUT', message: 'must be 1-100' }],
        }),
      ),
    );
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    const response = await fetch(`${address}/thing`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await response.json()).toMatchObject({
      type: 'https://docs.bilten.dev/errors/bad-user-input',
      status: 400,
      errors: [{ path: ['query', 'limit'], code: 'INVALID_INPUT', message: 'must be 1-100' }],
    });
  });

  it("the gateway's 429 carries no stack trace, hostname or client-made request id", async () => {
    // No subgraph is needed: the gateway answers `__typename` itself.
    const config = parseEnv(gatewayEnv, {
      HOST: '127.0.0.1',
      GATEWAY_PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:6379',
      GATEWAY_RATE_LIMIT: 'address=1/3600',
      GATEWAY_TRUST_PROXY: '127.0.0.1',
    });
    const gateway: RunningGateway = await startGateway({
      ...gatewayOptionsFromEnv(config, captureLogs('gateway').log),
      supergraphSdl: readFileSync(SUPERGRAPH_SDL_PATH, 'utf8'),
      subgraphUrls: {},
    });
    closers.push(() => gateway.stop());
    const headers = {
      'content-type': 'application/json',
      'x-forwarded-for': `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`,
      'x-request-id': 'http://127.0.0.1:5432/select * from users',
    };
    const send = () => fetch(gateway.url, { method: 'POST', headers, body: '{"query":"{ __typename }"}' });
    expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    const text = await refused.text();
    expect(internalsIn(text)).toEqual([]);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'instance', 'status', 'title', 'type']);
    expect(body.instance).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.instance).toBe(refused.headers.get('x-request-id'));
  });
});
