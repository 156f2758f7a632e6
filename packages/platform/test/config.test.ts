import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadPlatformEnv, platformEnv } from '../src/config.ts';

describe('config', () => {
  it('has working defaults for a laptop', () => {
    const env = loadPlatformEnv({});
    expect(env).toMatchObject({
      GATEWAY_PORT: 4000,
      IDENTITY_PORT: 4001,
      BRANDING_PORT: 4006,
      NATS_STREAM: 'BILTEN',
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('names every bad variable, one line each', () => {
    try {
      loadPlatformEnv({ GATEWAY_PORT: '70000', DATABASE_URL: 'not a url', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as ConfigError).problems;
      expect(lines).toHaveLength(3);
      expect(lines.some((line) => line.startsWith('GATEWAY_PORT:'))).toBe(true);
      expect(lines.some((line) => line.startsWith('DATABASE_URL:'))).toBe(true);
      expect(lines.some((line) => line.startsWith('LOG_LEVEL:'))).toBe(true);
    }
  });

  it('treats an empty optional URL as unset', () => {
    expect(loadPlatformEnv({ NATS_URL: '' }).NATS_URL).toBeUndefined();
  });
});

describe('README', () => {
  it('documents every environment variable the services read', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(platformEnv.shape).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
