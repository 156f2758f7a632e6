import { describe, expect, it } from 'vitest';
import { createExportKeyPair, openExportPart, sealExportPart } from '../src/privacy-requests.ts';

const keys = createExportKeyPair();
const part = { service: 'orders', orders: [{ id: 'o-1', buyerEmail: 'ana@example.com', amount: 2500 }] };

describe('sealed export parts', () => {
  it('open with the private key of the request they were sealed for', () => {
    const sealed = sealExportPart(keys.publicKey, part);
    expect(sealed).not.toContain('ana@example.com');
    expect(Buffer.from(sealed.split('.')[2]!, 'base64url').toString('latin1')).not.toContain('ana@');
    expect(openExportPart(keys.privateKey, sealed)).toEqual(part);
  });

  it('seal the same part differently each time', () => {
    expect(sealExportPart(keys.publicKey, part)).not.toBe(sealExportPart(keys.publicKey, part));
  });

  it('do not open with another request’s key', () => {
    const other = createExportKeyPair();
    const sealed = sealExportPart(keys.publicKey, part);
    expect(() => openExportPart(other.privateKey, sealed)).toThrow();
  });

  it('refuse a part altered anywhere', () => {
    const sealed = sealExportPart(keys.publicKey, part);
    const [version, wrapped, body] = sealed.split('.') as [string, string, string];
    const flip = (text: string, at: number) => {
      const raw = Buffer.from(text, 'base64url');
      raw[at] = raw[at]! ^ 1;
      return raw.toString('base64url');
    };
    expect(() => openExportPart(keys.privateKey, `${version}.${wrapped}.${flip(body, 40)}`)).toThrow();
    expect(() => openExportPart(keys.privateKey, `${version}.${flip(wrapped, 10)}.${body}`)).toThrow();
    // The body of another part under a wrapped key of this one: the AES key differs, so no.
    const another = sealExportPart(keys.publicKey, part).split('.')[2];
    expect(() => openExportPart(keys.privateKey, `${version}.${wrapped}.${another}`)).toThrow();
  });

  it('refuse what is not a sealed part', () => {
    expect(() => openExportPart(keys.privateKey, 'hello')).toThrow('not a sealed export part');
    expect(() =>
      openExportPart(keys.privateKey, `p1.${sealExportPart(keys.publicKey, part).slice(3)}`),
    ).toThrow('not a sealed export part');
  });
});
