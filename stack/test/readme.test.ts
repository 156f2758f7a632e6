/** The README tells a new user the truth: what works, what needs internet, what every code means. */
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '@bilten/platform';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const oneLine = readme.replace(/\s+/g, ' ');

describe('README', () => {
  it('lists every error code a client may see in extensions.code', () => {
    expect(ERROR_CODES.filter((code) => !readme.includes(code))).toEqual([]);
  });

  it('says that Apollo Sandbox loads from the internet, and what works offline', () => {
    expect(oneLine).toMatch(/Sandbox page itself loads from Apollo's CDN, so it needs internet/);
    expect(oneLine).toMatch(/`curl` and any GraphQL client work offline/);
  });

  it('says which variables place the services under npm start', () => {
    expect(oneLine).toMatch(/Under `npm start` only the `\*_PORT` variables place the services/);
  });

  it('claims nothing that is not built yet', () => {
    for (const claim of [
      /orders enforce the quota at sale time/,
      /get refunds by the event's policy; everyone is notified in real time/,
      /organizers keep their own brand and domain/,
    ])
      expect(oneLine).not.toMatch(claim);
  });
});
