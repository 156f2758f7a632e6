import { Writable } from 'node:stream';
import { expectNoCardNumbers } from '@bilten/testkit/checks';
import { describe, expect, it } from 'vitest';
import { createLogger, maskCardsInLine } from '../src/logger.ts';

/** A logger whose output is kept as the raw text lines it wrote (JSON.parse would keep one of two keys). */
function rawLogger(service: string, level = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ service, level, destination }), lines };
}

const servicesIn = (line: string) =>
  [...line.matchAll(/"service":("[^"]*")/g)].map((match) => JSON.parse(match[1]!));

describe('log lines name their service once', () => {
  it('names the service a child binds, not the process above it (npm start: bilten → catalog)', () => {
    const { log, lines } = rawLogger('bilten');
    log.info('infrastructure ready');
    log.child({ service: 'catalog' }).info('listening');
    expect(lines.map(servicesIn)).toEqual([['bilten'], ['catalog']]);
  });

  it('names it once when the process and the service share the name (a subgraph alone)', () => {
    const { log, lines } = rawLogger('catalog');
    log.child({ service: 'catalog' }).info('listening');
    expect(lines.map(servicesIn)).toEqual([['catalog']]);
  });

  it('keeps every other binding, whichever side of the service it was bound on', () => {
    const { log, lines } = rawLogger('bilten');
    log.child({ component: 'relay' }).child({ service: 'orders' }).child({ requestId: 'r-1' }).info('sent');
    log.child({ service: 'orders' }, { msgPrefix: '[outbox] ' }).child({ batch: 3 }).warn('slow');
    expect(lines.map(servicesIn)).toEqual([['orders'], ['orders']]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'relay', requestId: 'r-1', msg: 'sent' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ batch: 3, msg: '[outbox] slow' });
    expect(lines[0]).toMatch(/^\{"level":30,"time":"[^"]+",/);
  });

  it("keeps the parent's level, a child's own level, and the redaction of secrets", () => {
    const { log, lines } = rawLogger('bilten', 'warn');
    log.child({ service: 'identity' }).info('not written');
    const debugging = log.child({ service: 'identity' });
    debugging.level = 'debug';
    debugging.child({ requestId: 'r-2' }).debug({ input: { password: 'hunter22' } }, 'login');
    log.child({ service: 'billing' }, { level: 'error' }).warn('not written either');
    expect(lines).toHaveLength(1);
    expect(servicesIn(lines[0]!)).toEqual(['identity']);
    expect(lines[0]).not.toContain('hunter22');
  });
});

describe('every line is scrubbed of card numbers and secrets (PCI DSS)', () => {
  it('masks card numbers in the message, nested values, bindings and errors, and keeps the line JSON', () => {
    const { log, lines } = rawLogger('billing');
    log.info('paying with 4242 4242 4242 4242 for order 1234567812345678');
    log.info({ input: { note: ['my card: 4242-4242-4242-4242'], amount: 5555555555554444 } }, 'nested');
    log.child({ hint: '378282246310005' }).warn('bound');
    log.error({ err: new Error('provider said: card 4000056655665556 declined') }, 'provider failure');
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed[0].msg).toBe('paying with [card] for order 1234567812345678');
    expect(parsed[1].input).toEqual({ note: ['my card: [card]'], amount: '[card]' });
    expect(parsed[2].hint).toBe('[card]');
    expect(parsed[3].err.message).toBe('provider said: card [card] declined');
    expect(parsed[3].err.stack).toContain('card [card] declined');
    expectNoCardNumbers(lines, 'log lines');
  });

  it('redacts payment providers’ secrets by their shape, under any key and inside any text', () => {
    const { log, lines } = rawLogger('billing');
    log.info({ input: { stripe: { key: 'sk_live_51Habc123XYZ', hook: 'whsec_AbC123_def' } } }, 'set');
    log.error({ err: new Error('refused rk_test_9zz and sk_test_fake_stripe') }, 'provider failure');
    log.info('publishable pk_live_123 stays; ask_live_x is no key');
    const text = lines.join('\n');
    for (const secret of ['sk_live_51Habc123XYZ', 'whsec_AbC123_def', 'rk_test_9zz', 'sk_test_fake_stripe'])
      expect(text).not.toContain(secret);
    expect(JSON.parse(lines[0]!).input.stripe).toEqual({ key: '[redacted]', hook: '[redacted]' });
    expect(JSON.parse(lines[1]!).err.message).toBe('refused [redacted] and [redacted]');
    expect(JSON.parse(lines[2]!).msg).toBe('publishable pk_live_123 stays; ask_live_x is no key');
  });

  it('redacts the values of secret-named keys at any depth, and leaves the rest', () => {
    const { log, lines } = rawLogger('billing');
    const input = {
      orderId: 'o-1',
      paymentMethodToken: 'pm_card_visa',
      provider: { apiKey: 'sk_test_1', credentials: { privateKey: 'pk' }, merchantId: 'm-1' },
      headers: { authorization: 'Bearer x', cookie: 'sid=y' },
      card: { cardNumber: 'n', cvc: '123', cvv: '123', brand: 'visa', last4: '4242' },
      list: [{ password: 'hunter22' }, { secret: 's' }],
    };
    log.info({ input }, 'payOrder');
    log.child({ refreshToken: 'r' }).info('bound');
    const [line, bound] = lines.map((text) => JSON.parse(text));
    expect(line.input).toEqual({
      orderId: 'o-1',
      paymentMethodToken: '[redacted]',
      provider: { apiKey: '[redacted]', credentials: '[redacted]', merchantId: 'm-1' },
      headers: { authorization: '[redacted]', cookie: '[redacted]' },
      card: { cardNumber: '[redacted]', cvc: '[redacted]', cvv: '[redacted]', brand: 'visa', last4: '4242' },
      list: [{ password: '[redacted]' }, { secret: '[redacted]' }],
    });
    expect(bound.refreshToken).toBe('[redacted]');
    // The caller's object is not touched.
    expect(input.paymentMethodToken).toBe('pm_card_visa');
  });

  it('keeps what only resembles a card: non-Luhn numbers, ids, times in milliseconds', () => {
    const { log, lines } = rawLogger('orders');
    const values = {
      reference: '1234567812345678',
      id: '123e4567-e89b-12d3-a456-426614174040',
      atMs: 1765000000006,
    };
    log.info(values, 'kept');
    expect(JSON.parse(lines[0]!)).toMatchObject({ ...values, msg: 'kept' });
  });

  it('masks a card written as a bare JSON number as a string, so the line still parses', () => {
    expect(JSON.parse(maskCardsInLine('{"pan":4242424242424242,"msg":"x 4242424242424242"}'))).toEqual({
      pan: '[card]',
      msg: 'x [card]',
    });
  });

  it('costs little on lines without a card', () => {
    const line = JSON.stringify({
      level: 30,
      time: '2026-12-07T01:57:47.000Z',
      service: 'orders',
      requestId: '0193b1f4-7a2e-7c1d-9e55-1a2b3c4d5e6f',
      operationName: 'Checkout',
      durationMs: 12.5,
      msg: 'graphql operation',
    });
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) maskCardsInLine(line);
    // ~0.1 µs a line here; a whole log call costs tens of times that.
    expect((performance.now() - started) / 100_000).toBeLessThan(5 / 1000);
  });
});
