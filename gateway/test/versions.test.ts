/** The dated versions' machinery and the changelog built from it, without a stack. */
import { API_VERSIONS } from '@bilten/platform/api-versions';
import { visit } from 'graphql';
import { describe, expect, it } from 'vitest';
import { changelog, changelogHtml } from '../src/changelog.ts';
import { loadRestOperations, REST_ROUTES, type RestRoute } from '../src/rest-routes.ts';
import { answerIn, DATED_VERSIONS, type DatedVersion, requestedVersion } from '../src/versions/index.ts';

const route = { method: 'GET', path: '/probes/{id}', operation: 'GetProbe' } as RestRoute;
const versions: DatedVersion[] = [
  { version: '2026-12-06', changes: [{ title: 'First', description: 'The start.' }], transformers: {} },
  {
    version: '2026-12-07',
    changes: [{ title: 'A <b>bold</b> & `code` change', description: 'Says "why".' }],
    transformers: {
      GetProbe: (body) => ({ ...(body as object), by: 'its own' }),
      '*': (body) => ({ ...(body as object), by: 'every route' }),
    },
  },
];

describe('versions', () => {
  it('are the API_VERSIONS identity pins keys on, one file each, each saying what changed', () => {
    expect(DATED_VERSIONS.map((dated) => dated.version)).toEqual([...API_VERSIONS]);
    for (const dated of DATED_VERSIONS) expect(dated.changes.length).toBeGreaterThan(0);
  });

  it('transform newer → older: a route its own transformer, else the one for every route; none for the newest', () => {
    expect(answerIn('2026-12-06', route, { id: 1 }, versions)).toEqual({ id: 1, by: 'its own' });
    expect(answerIn('2026-12-06', { ...route, operation: 'Other' }, { id: 1 }, versions)).toEqual({
      id: 1,
      by: 'every route',
    });
    expect(answerIn('2026-12-07', route, { id: 1 }, versions)).toEqual({ id: 1 });
  });

  it('2026-12-06 answers have no `object` anywhere, and nothing else changes', () => {
    const newest = {
      object: 'list',
      data: [{ id: 'e1', object: 'event', venue: { city: 'Sarajevo' }, tags: ['jazz'], price: null }],
      hasMore: false,
    };
    expect(answerIn('2026-12-06', route, newest)).toEqual({
      data: [{ id: 'e1', venue: { city: 'Sarajevo' }, tags: ['jazz'], price: null }],
      hasMore: false,
    });
    expect(answerIn('2026-12-07', route, newest)).toBe(newest);
  });

  it('can strip `object` for 2026-12-06 because no route selects a field of that name', () => {
    const selected: string[] = [];
    for (const operation of loadRestOperations(new URL('../rest/v1/', import.meta.url)).values()) {
      visit(operation.document, {
        Field(node) {
          if ((node.alias ?? node.name).value === 'object') selected.push(operation.definition.name!.value);
        },
      });
    }
    expect(selected).toEqual([]);
  });

  it('are asked by the header, else the key pin, else the newest; unknown ones are refused', async () => {
    const pinned = async () => '2026-12-06';
    expect(await requestedVersion('2026-12-07', pinned)).toEqual({ version: '2026-12-07' });
    expect(await requestedVersion(undefined, pinned)).toEqual({ version: '2026-12-06' });
    expect(await requestedVersion(undefined, async () => undefined)).toEqual({
      version: API_VERSIONS.at(-1),
    });
    // A pin the gateway does not know (never written by identity) is not trusted either.
    expect(await requestedVersion(undefined, async () => '1999-01-01')).toEqual({
      version: API_VERSIONS.at(-1),
    });
    const refused = await requestedVersion('2026-13-01', pinned);
    expect(refused).toEqual({ refused: expect.stringContaining(API_VERSIONS.join(', ')) });
  });
});

describe('changelog', () => {
  it('lists versions newest first, each route deprecation under the version of its date', () => {
    const deprecated = {
      ...route,
      deprecated: { since: '2026-12-07', sunset: '2027-06-30', successor: '/probes/{id}/v2' },
    };
    const entries = changelog(versions, [route, deprecated]);
    expect(entries.map((entry) => [entry.version, entry.current])).toEqual([
      ['2026-12-07', true],
      ['2026-12-06', false],
    ]);
    expect(entries[0]!.changes.at(-1)).toEqual({
      title: '`GET /api/v1/probes/{id}` is deprecated',
      description:
        'Its answers carry `Deprecation` and `Sunset` headers; it answers until 2027-06-30. Use `/api/v1/probes/{id}/v2` instead.',
    });
    expect(entries[1]!.changes).toEqual(versions[0]!.changes);
  });

  it('is a page that escapes every text and runs no script', () => {
    const html = changelogHtml(changelog(versions, []));
    expect(html).toContain('A &lt;b&gt;bold&lt;/b&gt; &amp; <code>code</code> change');
    expect(html).toContain('Says &quot;why&quot;.');
    expect(html).not.toMatch(/<script|<b>/i);
  });

  it('of the real routes names the deprecated POST /check-ins', () => {
    const deprecated = REST_ROUTES.filter((entry) => entry.deprecated).map(
      (entry) => `${entry.method} ${entry.path}`,
    );
    expect(deprecated).toContain('POST /check-ins');
    const titles = changelog().flatMap((entry) => entry.changes.map((change) => change.title));
    expect(titles).toContain('`POST /api/v1/check-ins` is deprecated');
  });
});
