import { escapeHtml } from '@bilten/platform';
import { CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import type { FastifyInstance } from 'fastify';
import { ACCOUNT_PAGE_HEADERS, page } from './account-pages.ts';
import { REST_PREFIX, REST_ROUTES, type RestRoute } from './rest-routes.ts';
import { DATED_VERSIONS, type DatedVersion } from './versions/index.ts';

/*
 * The changelog of the REST facade's dated versions, generated from gateway/src/versions/ and the
 * routes' deprecations (never written a second time): `GET /api/changelog` (a page, no script) and
 * `GET /api/changelog.json`. Each version's anchor is its date; deprecation links point there.
 */

export const CHANGELOG_PATH = '/api/changelog';

export interface ChangelogEntry {
  version: string;
  current: boolean;
  changes: Array<{ title: string; description: string }>;
}

/** Newest first; a route deprecated on a date is listed under the version of that date (or the one before). */
export function changelog(
  versions: readonly DatedVersion[] = DATED_VERSIONS,
  routes: readonly RestRoute[] = REST_ROUTES,
): ChangelogEntry[] {
  return versions
    .map((dated, index) => {
      const next = versions[index + 1]?.version;
      const deprecated = routes.filter(
        ({ deprecated }) =>
          deprecated && deprecated.since >= dated.version && (!next || deprecated.since < next),
      );
      return {
        version: dated.version,
        current: dated.version === CURRENT_API_VERSION,
        changes: [
          ...dated.changes,
          ...deprecated.map(({ method, path, deprecated }) => ({
            title: `\`${method} ${REST_PREFIX}${path}\` is deprecated`,
            description:
              `Its answers carry \`Deprecation\` and \`Sunset\` headers; it answers until ${deprecated!.sunset}.` +
              (deprecated!.successor ? ` Use \`${REST_PREFIX}${deprecated!.successor}\` instead.` : ''),
          })),
        ],
      };
    })
    .reverse();
}

/** Escaped text with its `code` spans. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

export function changelogHtml(entries: ChangelogEntry[]): string {
  const sections = entries.map(
    (entry) =>
      `<section id="${escapeHtml(entry.version)}"><h2>${escapeHtml(entry.version)}${entry.current ? ' (current)' : ''}</h2><ul>` +
      entry.changes
        .map((change) => `<li><strong>${inline(change.title)}</strong>. ${inline(change.description)}</li>`)
        .join('') +
      '</ul></section>',
  );
  const intro = inline(
    'Send `Bilten-Version: <date>` to get answers in that version; without it, an API key gets the version it was pinned on when it was created, everyone else the newest. Every answer says which version it is in (`Bilten-Version`). Upgrade by reading the changes since your version, then send the newer date.',
  );
  return page('Bilten REST API changelog', `<p>${intro}</p>\n${sections.join('\n')}`);
}

export function registerChangelog(app: FastifyInstance) {
  const entries = changelog();
  const html = changelogHtml(entries);
  const json = JSON.stringify({ currentVersion: CURRENT_API_VERSION, versions: entries });
  // The same for everyone until the next deploy.
  const cacheControl = 'public, max-age=300';
  app.get(CHANGELOG_PATH, async (_request, reply) =>
    reply.headers(ACCOUNT_PAGE_HEADERS).header('cache-control', cacheControl).send(html),
  );
  app.get(`${CHANGELOG_PATH}.json`, async (_request, reply) =>
    reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', cacheControl)
      .send(json),
  );
}
