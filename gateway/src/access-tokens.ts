import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '@bilten/platform';
import { GraphQLError } from 'graphql';
import type { SubgraphDispatcher } from './config.ts';

/** `Bearer bk_live_…` / `Bearer bk_test_…`: an API key rather than an access token. */
const API_KEY_BEARER = /^Bearer (bk_(?:live|test)_\S*)$/;
/** `Bearer <jwt>`: a user's access token (or a token of a test signer, passed on as it is). */
const JWT_BEARER = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;
/**
 * How long an exchanged credential is reused: a revoked API key, an ended session or a role taken
 * away applies within this at the gateway (and at once at every subgraph, see followRevocations).
 */
const REUSE_MS = 1_000;
/** While identity cannot be reached, an API key's last token goes on unless it expires within this. */
const STALE_MARGIN_MS = 5_000;

export interface TokenExchangeOptions {
  /** Identity's API-key exchange route. */
  apiKeysUrl: string;
  /** Identity's route that re-signs a user's token with the claims of now. */
  currentClaimsUrl: string;
  timeoutMs: number;
  /** The subgraph connection pool with its TLS settings (server.ts); unset: Node's default. */
  dispatcher?: SubgraphDispatcher;
  log: Logger;
  /** Most credentials held at once (least recently used go first). */
  maxEntries?: number;
}

/** What identity says of an API key when it exchanges it: where its calls act, its version and plan. */
export interface ApiKeyFacts {
  keyId: string;
  /** The organization its calls act on: its own, or for a TEST key its sandbox. */
  organizationId: string;
  mode: 'LIVE' | 'TEST';
  /** The `Bilten-Version` its calls get unless they name one. */
  apiVersion: string;
  /** The rate-limit plan its calls are charged by. */
  plan: string;
}

/** What the gateway forwards for a caller, and for an API key what it knows of the key. */
export interface Credential {
  authorization: string | undefined;
  /** Set for API-key bearers only. */
  apiKey?: ApiKeyFacts;
}

interface Exchanged {
  authorization: string;
  apiKey?: ApiKeyFacts;
  refreshAt: number;
  expiresAt: number;
}

interface Entry {
  token: Promise<Exchanged>;
}

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
const unavailable = () =>
  new GraphQLError('API keys cannot be checked right now', { extensions: { code: 'INTERNAL' } });

/** Whether a JWT names a session (`sid`): identity's user tokens do; others are not ours to refresh. */
function namesSession(payload: string): boolean {
  try {
    return typeof JSON.parse(Buffer.from(payload, 'base64url').toString()).sid === 'string';
  } catch {
    return false;
  }
}

/**
 * What the gateway forwards as `authorization`, so that subgraphs only ever verify identity's
 * JWTs and read claims that are true now:
 * - an API key becomes identity's short-lived token for it (identity checks revocation on every
 *   exchange), reused for at most a second: a revoked key is refused within a second;
 * - a user's access token becomes identity's token with the caller's current roles and
 *   memberships, for a session that is still live, reused for at most a second and dropped after
 *   the caller's own mutations (`forgetAfterMutations`): a membership granted applies to the
 *   next request, one taken away or a revoked session within a second.
 * For an API key, `credentialFor` also answers identity's facts of it (where it acts, version,
 * plan), cached with its token. If identity cannot be reached, a user's own token and an API
 * key's last token (with its facts) go on: every subgraph still verifies them and refuses revoked
 * ones. Credentials are cached by their SHA-256 (no secret is kept); anything else passes unchanged.
 */
export function createTokenExchange(options: TokenExchangeOptions) {
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, Entry>();
  const keyOf = (credential: string) => createHash('sha256').update(credential).digest('hex');

  async function exchange(
    url: string,
    credential: string,
    kind: 'apiKey' | 'user',
    previous?: Exchanged,
  ): Promise<Exchanged> {
    // Every subgraph still verifies what goes on: a user's token with the claims it carries, or
    // the key's last token, and refuses either once revoked. Asked again on the next request.
    const fallback = () => {
      if (kind === 'user') return { authorization: `Bearer ${credential}`, refreshAt: 0, expiresAt: 0 };
      if (previous && previous.expiresAt > Date.now() + STALE_MARGIN_MS) return { ...previous, refreshAt: 0 };
      throw unavailable();
    };
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}` },
        signal: AbortSignal.timeout(options.timeoutMs),
        dispatcher: options.dispatcher,
      });
    } catch (err) {
      options.log.warn({ err, kind }, 'token exchange unavailable');
      return fallback();
    }
    if (response.status === 401) {
      throw unauthenticated(
        kind === 'apiKey'
          ? 'the API key is invalid or revoked'
          : 'the access token is invalid or its session is over',
      );
    }
    if (!response.ok) {
      options.log.warn({ status: response.status, kind }, 'token exchange failed');
      return fallback();
    }
    // The API-key route answers the key's facts too; the user route only the token.
    const body = (await response.json()) as { accessToken: string; expiresIn: number } & ApiKeyFacts;
    const { accessToken, expiresIn, keyId, organizationId, mode, apiVersion, plan } = body;
    const now = Date.now();
    return {
      authorization: `Bearer ${accessToken}`,
      ...(kind === 'apiKey' ? { apiKey: { keyId, organizationId, mode, apiVersion, plan } } : {}),
      refreshAt: now + REUSE_MS,
      expiresAt: now + expiresIn * 1000,
    };
  }

  /** The caller's credential as subgraphs get it, with the facts of an API key (see above). */
  async function credentialFor(authorization: string | undefined): Promise<Credential> {
    if (!authorization) return { authorization };
    const apiKey = API_KEY_BEARER.exec(authorization)?.[1];
    const jwt = apiKey ? undefined : JWT_BEARER.exec(authorization);
    if (!apiKey && !(jwt && namesSession(jwt[2]!))) return { authorization };
    const credential = apiKey ?? authorization.slice('Bearer '.length);
    const key = keyOf(credential);
    let entry = cache.get(key);
    if (entry) cache.delete(key); // re-inserted below: most recently used last
    const held = await entry?.token.catch(() => undefined);
    if (!entry || !held || held.refreshAt <= Date.now()) {
      // Concurrent requests with one credential share one exchange; a failure is not cached.
      entry = apiKey
        ? { token: exchange(options.apiKeysUrl, credential, 'apiKey', held) }
        : { token: exchange(options.currentClaimsUrl, credential, 'user') };
      const token = entry.token;
      token.catch(() => {
        if (cache.get(key)?.token === token) cache.delete(key);
      });
    }
    cache.set(key, entry);
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    const { authorization: forwarded, apiKey: facts } = await entry.token;
    return facts ? { authorization: forwarded, apiKey: facts } : { authorization: forwarded };
  }

  const authorizationFor = async (authorization: string | undefined): Promise<string | undefined> =>
    (await credentialFor(authorization)).authorization;

  /** After a caller's mutation, their next request gets fresh claims (a new organization, say). */
  const forgetAfterMutations: ApolloServerPlugin = {
    async requestDidStart() {
      return {
        async willSendResponse({ operation, request }) {
          const authorization = request.http?.headers.get('authorization');
          // API keys carry no memberships of their own to refresh: only user tokens are dropped.
          const jwt = authorization && JWT_BEARER.exec(authorization);
          if (operation?.operation !== 'mutation' || !jwt) return;
          cache.delete(keyOf(authorization.slice('Bearer '.length)));
        },
      };
    },
  };

  return { authorizationFor, credentialFor, forgetAfterMutations };
}
