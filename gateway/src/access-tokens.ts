import { createHash } from 'node:crypto';
import type { Logger } from '@bilten/platform';
import { GraphQLError } from 'graphql';

/** `Bearer bk_live_…` / `Bearer bk_test_…`: an API key rather than an access token. */
const API_KEY_BEARER = /^Bearer (bk_(?:live|test)_\S*)$/;
/** Exchange again this long before the token expires, so no request carries a token about to lapse. */
const REFRESH_MARGIN_MS = 15_000;

export interface ApiKeyExchangeOptions {
  /** Identity's exchange route. */
  url: string;
  timeoutMs: number;
  log: Logger;
  /** Most keys held at once (least recently used go first). */
  maxEntries?: number;
}

interface Entry {
  token: Promise<{ authorization: string; refreshAt: number }>;
}

const invalidKey = () =>
  new GraphQLError('the API key is invalid or revoked', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });

/**
 * Turns an API key into identity's short-lived access token for it, so subgraphs only ever
 * verify JWTs. Tokens are cached by the key's SHA-256 (the secret is not kept) until shortly
 * before they expire; identity checks revocation on every exchange, so a revoked key stops
 * working within a token's lifetime (60 s). Any other authorization passes through unchanged.
 */
export function createApiKeyExchange(options: ApiKeyExchangeOptions) {
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, Entry>();

  async function exchange(secret: string) {
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}` },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      options.log.warn({ err }, 'API key exchange unavailable');
      throw new GraphQLError('API keys cannot be checked right now', { extensions: { code: 'INTERNAL' } });
    }
    if (response.status === 401) throw invalidKey();
    if (!response.ok) {
      options.log.warn({ status: response.status }, 'API key exchange failed');
      throw new GraphQLError('API keys cannot be checked right now', { extensions: { code: 'INTERNAL' } });
    }
    const { accessToken, expiresIn } = (await response.json()) as { accessToken: string; expiresIn: number };
    return {
      authorization: `Bearer ${accessToken}`,
      refreshAt: Date.now() + expiresIn * 1000 - REFRESH_MARGIN_MS,
    };
  }

  return async function authorizationFor(authorization: string | undefined): Promise<string | undefined> {
    const secret = authorization && API_KEY_BEARER.exec(authorization)?.[1];
    if (!secret) return authorization;
    const key = createHash('sha256').update(secret).digest('hex');
    let entry = cache.get(key);
    if (entry) cache.delete(key); // re-inserted below: most recently used last
    const fresh =
      entry &&
      (await entry.token.then(
        (token) => token.refreshAt > Date.now(),
        () => false,
      ));
    if (!entry || !fresh) {
      // Concurrent requests with one key share one exchange; a failure is not cached.
      entry = { token: exchange(secret) };
      const token = entry.token;
      token.catch(() => {
        if (cache.get(key)?.token === token) cache.delete(key);
      });
    }
    cache.set(key, entry);
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    return (await entry.token).authorization;
  };
}
