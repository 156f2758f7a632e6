import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

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
