import { readFileSync } from 'node:fs';
import type { ConfigError } from '@bilten/platform';
import { parseEnv } from '@bilten/platform';
import { describe, expect, it } from 'vitest';
import { SUBGRAPHS, stackEnv } from '../src/stack.ts';

describe('every service config', () => {
  it('listens on the documented ports by default', () => {
    const ports = Object.fromEntries(
      SUBGRAPHS.map(({ name, config, port }) => [name, port(parseEnv(config, {}))]),
    );
    expect(ports).toEqual({
      identity: 4001,
      catalog: 4002,
      orders: 4003,
      billing: 4004,
      messaging: 4005,
      branding: 4006,
    });
    expect(parseEnv(stackEnv, {}).GATEWAY_PORT).toBe(4000);
  });

  it('is documented in the README, every variable of every service', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(stackEnv.shape).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it("names a service's own bad variables and the kit's, one line each", () => {
    try {
      parseEnv(stackEnv, { SMTP_URL: 'http://mail', IDENTITY_PORT: 'x', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      const names = (err as ConfigError).problems.map((line) => line.split(':')[0]).sort();
      expect(names).toEqual(['IDENTITY_PORT', 'LOG_LEVEL', 'SMTP_URL']);
    }
  });
});
