import { describe, expect, it } from 'vitest';
import { checkHostname, isApex, isPlatformHostname, normalHostname } from '../src/domain/hostnames.ts';

const PLATFORM = ['bilten.localhost', 'localhost', 'bilten.app'];

describe('checkHostname normalises', () => {
  it.each([
    ['Tickets.Example-Org.Test.', 'tickets.example-org.test', 'tickets.example-org.test'],
    ['  tickets.example.org  ', 'tickets.example.org', 'tickets.example.org'],
    ['tickets.bücher.test', 'tickets.xn--bcher-kva.test', 'tickets.bücher.test'],
    ['TICKETS.BÜCHER.TEST.', 'tickets.xn--bcher-kva.test', 'tickets.bücher.test'],
    ['tickets.xn--bcher-kva.test', 'tickets.xn--bcher-kva.test', 'tickets.bücher.test'],
    ['shop.example.co.uk', 'shop.example.co.uk', 'shop.example.co.uk'],
    ['me.github.io', 'me.github.io', 'me.github.io'],
  ])('%s → %s', (input, hostname, displayHostname) => {
    expect(checkHostname(input, PLATFORM)).toMatchObject({ ok: true, hostname, displayHostname });
  });

  it('accepts a registrable apex and says it is one', () => {
    expect(checkHostname('example.org', PLATFORM)).toEqual({
      ok: true,
      hostname: 'example.org',
      displayHostname: 'example.org',
      apex: true,
    });
    expect(isApex('example.org')).toBe(true);
    expect(isApex('tickets.example.org')).toBe(false);
    expect(checkHostname('tickets.example.org', PLATFORM)).toMatchObject({ apex: false });
  });

  it('strips one trailing dot only', () => {
    expect(checkHostname('tickets.example.org..', PLATFORM)).toMatchObject({ ok: false });
  });
});

describe('checkHostname refuses', () => {
  it.each([
    ['an empty name', '', /give a hostname/],
    ['blanks', '   ', /give a hostname/],
    ['a URL', 'https://tickets.example.org', /hostname only/],
    ['a URL with a path', 'https://tickets.example.org/events', /hostname only/],
    ['a path', 'tickets.example.org/events', /hostname only/],
    ['a port', 'tickets.example.org:8443', /without a port/],
    ['user info', 'me@tickets.example.org', /hostname only/],
    ['an IPv4 address', '192.0.2.10', /IP address/],
    ['an IPv4 address with a dot', '192.0.2.10.', /IP address/],
    ['an IPv6 address', '2001:db8::1', /IP address/],
    ['a bracketed IPv6 address', '[2001:db8::1]', /IP address/],
    ['a short numeric address', '127.1', /IP address/],
    ['a wildcard', '*.example.org', /wildcards/],
    ['a single label', 'intranet', /full hostname/],
    ['a bare ICANN suffix', 'co.uk', /public suffix/],
    ['a bare TLD with a dot', 'com.', /full hostname/],
    ['a bare private suffix', 'github.io', /public suffix/],
    ['another private suffix', 'blogspot.com', /public suffix/],
    ['the platform domain', 'bilten.app', /platform/],
    ['a name under the platform domain', 'evil.bilten.app', /platform/],
    ['a name under localhost', 'tickets.localhost', /platform/],
    ['underscores', 'my_tickets.example.org', /letters, digits and hyphens/],
    ['a leading hyphen', '-tickets.example.org', /letters, digits and hyphens/],
    ['a trailing hyphen', 'tickets-.example.org', /letters, digits and hyphens/],
    ['an empty label', 'tickets..example.org', /empty label/],
    ['a leading dot', '.example.org', /empty label/],
    ['spaces inside', 'tick ets.example.org', /spaces/],
    ['a label of 64 characters', `${'a'.repeat(64)}.example.org`, /at most 63/],
    ['a name of 254 characters', `${'a.'.repeat(125)}example.org`, /at most 253/],
    ['invalid punycode', 'xn--zz.example.org', /not a valid hostname|letters, digits/],
    ['a control character', 'tickets\u0000.example.org', /not a valid hostname|letters, digits|spaces/],
  ])('%s', (_, input, reason) => {
    const checked = checkHostname(input, PLATFORM);
    expect(checked.ok).toBe(false);
    expect(checked.ok ? '' : checked.reason).toMatch(reason);
  });

  it('accepts a label of exactly 63 characters and a name of exactly 253', () => {
    expect(checkHostname(`${'a'.repeat(63)}.example.org`, PLATFORM).ok).toBe(true);
    const name = `${'a.'.repeat(120)}abexample.org`;
    expect(name).toHaveLength(253);
    expect(checkHostname(name, PLATFORM).ok).toBe(true);
  });
});

describe('helpers', () => {
  it('isPlatformHostname matches the domain and names under it, not look-alikes', () => {
    expect(isPlatformHostname('bilten.app', PLATFORM)).toBe(true);
    expect(isPlatformHostname('x.bilten.app', PLATFORM)).toBe(true);
    expect(isPlatformHostname('notbilten.app', PLATFORM)).toBe(false);
  });

  it('normalHostname answers the normal form or null', () => {
    expect(normalHostname('Tickets.Example-Org.Test.')).toBe('tickets.example-org.test');
    expect(normalHostname('127.0.0.1')).toBeNull();
    expect(normalHostname('evil.bilten.app', PLATFORM)).toBeNull();
  });
});
