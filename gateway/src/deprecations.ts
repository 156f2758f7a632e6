import type { ApolloServerPlugin } from '@apollo/server';
import { CURRENT_API_VERSION } from '@bilten/platform/api-versions';
import { type DocumentNode, type GraphQLSchema, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { CHANGELOG_PATH } from './changelog.ts';
import type { RestRoute } from './rest-routes.ts';

/*
 * Deprecated REST routes and GraphQL fields announce themselves on every answer that uses them:
 * `Deprecation: @<unix seconds>` (RFC 9745), `Sunset: <IMF-fixdate>` (RFC 8594) and links to the
 * successor and to the changelog.
 */

/**
 * A GraphQL element may be removed once the date in its deprecation reason has passed (the
 * breaking-change check, schema/check-breaking.ts), e.g. `@deprecated(reason: "Use startsAt.
 * Removal after 2027-03-31.")`; `deprecated since 2026-12-07` in the reason dates the deprecation.
 */
export const REMOVAL_DATE_PATTERN = /removal after (\d{4}-\d{2}-\d{2})/i;
const SINCE_DATE_PATTERN = /deprecated since (\d{4}-\d{2}-\d{2})/i;

const DAY_MS = 86_400_000;
const midnight = (date: string) => Date.parse(`${date}T00:00:00Z`);
const deprecationValue = (since: string) => `@${Math.floor(midnight(since) / 1000)}`;
const sunsetValue = (ms: number) => new Date(ms).toUTCString();
const changelogLink = (since: string) => `<${CHANGELOG_PATH}#${since}>; rel="deprecation"; type="text/html"`;

/** The headers of a deprecated route's answers; `prefix` is where the routes are (`/api/v1`). */
export function routeDeprecationHeaders(
  deprecation: NonNullable<RestRoute['deprecated']>,
  prefix: string,
): Record<string, string> {
  const links = [changelogLink(deprecation.since)];
  // A URI template when the successor takes path parameters (`/tickets/{id}/check-in`).
  if (deprecation.successor) links.unshift(`<${prefix}${deprecation.successor}>; rel="successor-version"`);
  return {
    deprecation: deprecationValue(deprecation.since),
    sunset: sunsetValue(midnight(deprecation.sunset)),
    link: links.join(', '),
  };
}

/** How the OpenAPI document describes those headers. */
export const DEPRECATION_RESPONSE_HEADERS = {
  Deprecation: {
    description: 'RFC 9745: this route is deprecated since then (`@<unix seconds>`).',
    schema: { type: 'string' },
  },
  Sunset: {
    description: 'RFC 8594: from this instant the route may stop answering.',
    schema: { type: 'string' },
  },
  Link: {
    description:
      'The route that replaces it (`rel="successor-version"`) and its changelog entry (`rel="deprecation"`).',
    schema: { type: 'string' },
  },
};

/**
 * The headers for a document that uses deprecated fields, arguments or enum values with a removal
 * date: the soonest removal is the sunset (the day after the date, 00:00 UTC). Deprecated without
 * a date: nothing to announce. The deprecation is dated `since` the reason says, else as of the
 * current API version.
 */
export function documentDeprecationHeaders(
  schema: GraphQLSchema,
  document: DocumentNode,
): Record<string, string> | null {
  const typeInfo = new TypeInfo(schema);
  let soonest: { removal: string; since: string } | undefined;
  const consider = (reason: string | null | undefined) => {
    const removal = reason?.match(REMOVAL_DATE_PATTERN)?.[1];
    if (!removal || (soonest && soonest.removal <= removal)) return;
    soonest = { removal, since: reason!.match(SINCE_DATE_PATTERN)?.[1] ?? CURRENT_API_VERSION };
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        consider(typeInfo.getFieldDef()?.deprecationReason);
      },
      Argument() {
        consider(typeInfo.getArgument()?.deprecationReason);
      },
      EnumValue() {
        consider(typeInfo.getEnumValue()?.deprecationReason);
      },
    }),
  );
  if (!soonest) return null;
  return {
    deprecation: deprecationValue(soonest.since),
    sunset: sunsetValue(midnight(soonest.removal) + DAY_MS),
  };
}

/** `Deprecation`/`Sunset` on /graphql answers whose operation uses what will be removed; worked out once per parsed document. */
export function deprecatedFieldHeaders(): ApolloServerPlugin {
  // Apollo reuses one DocumentNode per query text (its document cache), and builds a new cache with a new schema.
  const byDocument = new WeakMap<DocumentNode, Record<string, string> | null>();
  return {
    async requestDidStart() {
      let headers: Record<string, string> | null | undefined;
      return {
        async didResolveOperation({ document, schema }) {
          headers = byDocument.get(document);
          if (headers === undefined) {
            headers = documentDeprecationHeaders(schema, document);
            byDocument.set(document, headers);
          }
        },
        async willSendResponse({ response }) {
          for (const [name, value] of Object.entries(headers ?? {})) response.http.headers.set(name, value);
        },
      };
    },
  };
}
