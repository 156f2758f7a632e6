import { ConfigError } from '@bilten/platform';
import { describe, expect, it } from 'vitest';
import { keyEncryptionKey } from '../src/adapters/key-store.ts';

describe('AUTH_KEY_ENCRYPTION_SECRET', () => {
  it('is required in production, with a development default elsewhere', () => {
    expect(() => keyEncryptionKey({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_SECRET: undefined })).toThrow(
      ConfigError,
    );
    expect(keyEncryptionKey({ NODE_ENV: 'development', AUTH_KEY_ENCRYPTION_SECRET: undefined })).toHaveLength(
      32,
    );
    const a = keyEncryptionKey({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_SECRET: 'a'.repeat(32) });
    const b = keyEncryptionKey({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_SECRET: 'b'.repeat(32) });
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
  });
});
