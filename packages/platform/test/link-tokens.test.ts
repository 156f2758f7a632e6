import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { linkTokenSeal } from '../src/link-tokens.ts';

describe('linkTokenSeal', () => {
  const seal = linkTokenSeal({ NODE_ENV: 'production', MAIL_LINK_SECRET: 'a'.repeat(32) });

  it('opens what it sealed for the same object, and only that', () => {
    const sealed = seal.seal('tok_secret', 'user-1');
    expect(sealed).not.toContain('tok_secret');
    expect(seal.open(sealed, 'user-1')).toBe('tok_secret');
    expect(() => seal.open(sealed, 'user-2')).toThrow();
  });

  it('refuses a tampered token and one sealed under another secret', () => {
    const sealed = seal.seal('tok_secret', 'user-1');
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[bytes.length - 1]! ^= 1; // one bit of the ciphertext
    const tampered = bytes.toString('base64url');
    expect(() => seal.open(tampered, 'user-1')).toThrow();
    const other = linkTokenSeal({ NODE_ENV: 'production', MAIL_LINK_SECRET: 'b'.repeat(32) });
    expect(() => other.open(sealed, 'user-1')).toThrow();
  });

  it('needs MAIL_LINK_SECRET in production, and only there', () => {
    expect(() => linkTokenSeal({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(linkTokenSeal({ NODE_ENV: 'development' }).seal('t', 'x')).toBeTruthy();
  });
});
