import {
  ANONYMOUS,
  ConfigError,
  createOutbox,
  createTokenVerifier,
  defineSubgraph,
  linkTokenSeal,
} from '@bilten/platform';
import { createPasswordHasher } from './adapters/password-hasher.ts';
import { type IdentityConfig, identityEnv } from './config.ts';
import { createContext, type IdentityServices } from './context.ts';
import { eventStore } from './db/schema.ts';
import { startAuditAnchor } from './domain/access-log.ts';
import { exchangeApiKey } from './domain/api-keys.ts';
import { ensurePlatformAdmin, platformAdminInput } from './domain/platform-admins.ts';
import { currentAccessToken } from './domain/sessions.ts';
import { createSignInProofs } from './domain/sign-in-proofs.ts';
import { openSigningKeys } from './domain/signing-keys.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const identitySubgraph = defineSubgraph({
  name: 'identity',
  directory: new URL('../', import.meta.url),
  config: identityEnv,
  port: (config) => config.IDENTITY_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  fieldRateLimits: (config) => ({
    redisUrl: config.REDIS_URL,
    fields: {
      'Mutation.register': { limit: config.RATE_LIMIT_SIGN_UP, per: 'address' },
      'Mutation.requestPasswordReset': { limit: config.RATE_LIMIT_PASSWORD_RESET, per: 'address' },
      'Mutation.resendVerification': { limit: config.RATE_LIMIT_VERIFICATION_RESEND, per: 'address' },
    },
  }),
  async setup({ db, log, config, auth }) {
    const keys = await openSigningKeys({ db, env: config, log, ...auth });
    const services: IdentityServices = {
      keys,
      passwords: await createPasswordHasher(),
      limits: { registrationsPerIpPerHour: config.AUTH_REGISTRATIONS_PER_IP_PER_HOUR },
      links: linkTokenSeal(config),
      signInProofs: createSignInProofs(config),
    };
    const bootstrapAdmin = bootstrapAdminFrom(config);
    if (bootstrapAdmin) {
      const { userId, outcome } = await ensurePlatformAdmin(db, services.passwords, bootstrapAdmin, {
        setPassword: false,
      });
      log.info({ userId, outcome }, 'bootstrap platform administrator ensured');
    }
    return {
      services,
      // Identity checks its own tokens against its key store, without an HTTP round trip to itself.
      tokenKeys: keys.getKey,
      // The access log's head, anchored outside the database (domain/access-log.ts, issue 18).
      background: (deps) => startAuditAnchor(deps, config.AUDIT_ANCHOR_MS),
      routes(app) {
        app.get('/.well-known/jwks.json', async (_request, reply) => {
          reply.header('cache-control', 'public, max-age=300');
          return keys.jwks();
        });
        // For the gateway: `Authorization: Bearer bk_…` in, a short-lived access token and the
        // key's facts (where it acts, version, plan) out. Not public: only the gateway reaches
        // subgraphs. The outbox: a TEST key older than sandboxes opens its organization's here.
        const outbox = createOutbox(eventStore, 'identity');
        app.post('/internal/api-keys/exchange', async (request, reply) => {
          const secret = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
          const exchanged = await exchangeApiKey({ db, keys, log, outbox }, secret);
          reply.header('cache-control', 'no-store');
          if (!exchanged) return reply.status(401).send({ error: 'invalid API key' });
          return exchanged;
        });
        // For the gateway: a user's access token in, the same caller's token with the roles,
        // memberships and session state of now out (see currentAccessToken). Not public either.
        const verifyOwnToken = createTokenVerifier({ keys: keys.getKey, ...auth });
        app.post('/internal/access/current', async (request, reply) => {
          reply.header('cache-control', 'no-store');
          const viewer = await verifyOwnToken(request.headers.authorization).catch(() => ANONYMOUS);
          const current = await currentAccessToken({ db, keys }, viewer);
          if (!current)
            return reply.status(401).send({ error: 'the session is over or the token is invalid' });
          return current;
        });
      },
    };
  },
});

/** BOOTSTRAP_ADMIN_EMAIL (+ BOOTSTRAP_ADMIN_PASSWORD), checked like a sign-up; a bad value stops the start. */
function bootstrapAdminFrom(env: IdentityConfig) {
  if (!env.BOOTSTRAP_ADMIN_EMAIL) {
    if (env.BOOTSTRAP_ADMIN_PASSWORD)
      throw new ConfigError(['BOOTSTRAP_ADMIN_PASSWORD: set BOOTSTRAP_ADMIN_EMAIL too']);
    return undefined;
  }
  const parsed = platformAdminInput.safeParse({
    email: env.BOOTSTRAP_ADMIN_EMAIL,
    password: env.BOOTSTRAP_ADMIN_PASSWORD || undefined,
  });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) => `BOOTSTRAP_ADMIN_${String(issue.path[0]).toUpperCase()}: ${issue.message}`,
      ),
    );
  }
  return parsed.data;
}

// What tools beside the service may use, through this face only: the bench measures the raw
// password hash against a sign-in, end-to-end tests forge tokens with identity's real keys.
export { createPasswordHasher } from './adapters/password-hasher.ts';
export { openSigningKeys } from './domain/signing-keys.ts';
