import { API_VERSIONS, type ApiVersion, CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import type { RestRoute } from '../rest-routes.ts';
import firstVersion from './2026-12-06.ts';
import objectNames from './2026-12-07.ts';

/*
 * The dated versions of the REST facade (`Bilten-Version`, Stripe's model). Routes always answer in
 * the newest shape; each version here says what changed from the one before and how to turn its
 * answers back into that one's shape. An answer for an older version goes through the transformers
 * of every newer version, newest first. The changelog (changelog.ts) is generated from this list.
 */

export const VERSION_HEADER = 'bilten-version';

/** Turns a route's answer in a version's shape into the shape of the version before it. */
export type AnswerTransformer = (body: unknown, route: RestRoute) => unknown;

export interface DatedVersion {
  version: ApiVersion;
  /** What changed from the version before, as the changelog says it. */
  changes: Array<{ title: string; description: string }>;
  /** By the route's operation id, or `*` for every route without its own. */
  transformers: Record<string, AnswerTransformer>;
}

/** Oldest first: one file per version. */
export const DATED_VERSIONS: readonly DatedVersion[] = [firstVersion, objectNames];

// The list of versions identity pins keys on (contracts) and this folder must say the same.
if (DATED_VERSIONS.map((dated) => dated.version).join() !== API_VERSIONS.join()) {
  throw new Error(`gateway/src/versions does not match API_VERSIONS (${API_VERSIONS.join(', ')})`);
}

export const isApiVersion = (value: string): value is ApiVersion =>
  (API_VERSIONS as readonly string[]).includes(value);

/**
 * The version a request is answered in: its `Bilten-Version` header, else the version its API key is
 * pinned on, else (users, anonymous callers) the newest; or why the header is refused.
 */
export async function requestedVersion(
  header: string | string[] | undefined,
  pinned: () => Promise<string | undefined>,
): Promise<{ version: ApiVersion } | { refused: string }> {
  if (header !== undefined) {
    const asked = String(header).trim();
    return isApiVersion(asked)
      ? { version: asked }
      : { refused: `unknown ${VERSION_HEADER} "${asked}": use one of ${API_VERSIONS.join(', ')}` };
  }
  const version = await pinned();
  return { version: version !== undefined && isApiVersion(version) ? version : CURRENT_API_VERSION };
}

/** `body`, a route's answer in the newest shape, in the shape of `version`. */
export function answerIn(
  version: ApiVersion,
  route: RestRoute,
  body: unknown,
  versions: readonly DatedVersion[] = DATED_VERSIONS,
): unknown {
  let answer = body;
  for (let index = versions.length - 1; index > 0 && versions[index]!.version > version; index--) {
    const { transformers } = versions[index]!;
    const transform = transformers[route.operation] ?? transformers['*'];
    if (transform) answer = transform(answer, route);
  }
  return answer;
}

/** The `Bilten-Version` parameter of every operation in the OpenAPI document. */
export const VERSION_PARAMETER = {
  name: 'Bilten-Version',
  in: 'header',
  required: false,
  description:
    'The dated version to answer in (see the changelog). Default: the version the API key was pinned on at its creation; the newest for signed-in users and anonymous callers.',
  schema: { type: 'string', enum: [...API_VERSIONS] },
  example: CURRENT_API_VERSION,
};

/** The `Bilten-Version` header of every answer. */
export const VERSION_RESPONSE_HEADER = {
  description: 'The dated version this answer is shaped by.',
  schema: { type: 'string', enum: [...API_VERSIONS] },
};
