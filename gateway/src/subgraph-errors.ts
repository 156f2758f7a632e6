import type { FetcherResponse } from '@apollo/utils.fetcher';
import { ERROR_CODES, type Logger } from '@bilten/platform';
import { GraphQLError } from 'graphql';

const CLIENT_CODES = new Set<string>(ERROR_CODES);

/** What a bare status means to a client, when the subgraph sent no GraphQL error of its own. */
const BY_STATUS: Record<number, { code: string; message: string }> = {
  401: { code: 'UNAUTHENTICATED', message: 'the access token is invalid or expired' },
  403: { code: 'FORBIDDEN', message: 'not allowed' },
  429: { code: 'RATE_LIMITED', message: 'too many requests, try again later' },
};

/**
 * `errorFromResponse` of the gateway's data sources: a subgraph's non-2xx answer as a client may
 * see it. @apollo/gateway's own puts the subgraph's URL, status line and whole body into
 * `extensions.response`, which reach the client (a bad token showed every caller an internal
 * address). This keeps the subgraph's first error when it carries a code clients know (subgraphs
 * write those messages for clients), or says what the status means; the rest goes to the log.
 */
export function subgraphErrorFromResponse(subgraph: string, log: Logger) {
  return async (response: FetcherResponse): Promise<GraphQLError> => {
    const body = await response.text().catch(() => '');
    const reported = firstError(body);
    const known = reported && CLIENT_CODES.has(reported.code) ? reported : BY_STATUS[response.status];
    if (!known || known.code === 'INTERNAL') {
      log.warn(
        { subgraph, status: response.status, body: body.slice(0, 2_000) },
        'subgraph answered an error status',
      );
    }
    const { code, message } = known ?? { code: 'INTERNAL', message: `subgraph ${subgraph} failed` };
    return new GraphQLError(message, { extensions: { code, serviceName: subgraph } });
  };
}

function firstError(body: string): { code: string; message: string } | undefined {
  try {
    const [first] =
      (JSON.parse(body) as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] }).errors ??
      [];
    const code = first?.extensions?.code;
    if (typeof first?.message === 'string' && typeof code === 'string')
      return { code, message: first.message };
  } catch {
    // Not JSON (a proxy's error page): the status is all there is to go on.
  }
  return undefined;
}
