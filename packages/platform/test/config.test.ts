import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv, platformEnv, port, serviceEnv } from '../src/config.ts';

describe('config', () => {
  it('has working defaults for a laptop', () => {
    const env = parseEnv(platformEnv, {});
    expect(env).toMatchObject({ HOST: '0.0.0.0', NATS_STREAM: 'BILTEN', EMBEDDED_POSTGRES_PORT: 5499 });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('names every bad variable, one line each', () => {
    try {
      parseEnv(serviceEnv({ GATEWAY_PORT: port(4000) }), {
        GATEWAY_PORT: '70000',
        DATABASE_URL: 'not a url',
        LOG_LEVEL: 'loud',
      });
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
    expect(parseEnv(platformEnv, { NATS_URL: '' }).NATS_URL).toBeUndefined();
  });
});
