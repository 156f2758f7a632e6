import {
  ANONYMOUS,
  ConfigError,
  clientAddress,
  createOutbox,
  createTokenVerifier,
  defineSubgraph,
  type EncryptedColumn,
  keyRingFromEnv,
  linkTokenSeal,
  personKeysFromEnv,
  plainTextReply,
  startUsageJumpWatch,
  usageJumpRulesOf,
} from '@bilten/platform';
import { registerAlertmanagerWebhook } from './adapters/alertmanager-webhook.ts';
import { createPasswordHasher } from './adapters/password-hasher.ts';
import { type IdentityConfig, identityEnv } from './config.ts';
import { createContext, type IdentityServices } from './context.ts';
import { sealPlaintextClientData } from './db/client-data.ts';
import { sealPlaintextInvitations } from './db/invitations.ts';
import { eventStore, personKeys, usage } from './db/schema.ts';
import { sealPlaintextUsers } from './db/users.ts';
import { startAuditAnchor } from './domain/access-log.ts';
import { exchangeApiKey } from './domain/api-keys.ts';
import { startRegulatorDeadlineWatch } from './domain/incident-queries.ts';
import { ensurePlatformAdmin, platformAdminInput } from './domain/platform-admins.ts';
import { ARCHIVE_COLUMN, downloadExport, PRIVATE_KEY_COLUMN } from './domain/privacy-requests.ts';
import { startPrivacyRequestSweep } from './domain/privacy-saga.ts';
import { identitySecurityEvents, securityMonitorOf } from './domain/security-monitoring.ts';
import { startSecurityEventsRetention } from './domain/security-retention.ts';
import { currentAccessToken } from './domain/sessions.ts';
import { createSignInProofs } from './domain/sign-in-proofs.ts';
import { openSigningKeys } from './domain/signing-keys.ts';
import * as published from './events.ts';
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
  securityEvents: (services) => services.securityEvents,
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
    const keysOfPersons = personKeysFromEnv(db, personKeys, config);
    const securityMonitor = securityMonitorOf({
      outbox: createOutbox(eventStore, 'identity'),
      log,
      config,
      personKeys: keysOfPersons,
    });
    const services: IdentityServices = {
      keys,
      passwords: await createPasswordHasher(),
      limits: { registrationsPerIpPerHour: config.AUTH_REGISTRATIONS_PER_IP_PER_HOUR },
      links: linkTokenSeal(config),
      signInProofs: createSignInProofs(config),
      securityEvents: identitySecurityEvents(securityMonitor),
      securityMonitor,
      dataKeys: keyRingFromEnv(config),
      publicGatewayUrl: config.PUBLIC_GATEWAY_URL,
      usagePrices: config.USAGE_PRICE_SHEET,
      personKeys: keysOfPersons,
      // Invitees are keyed by their address's blind index: they may come back after an erasure.
      guestVault: personKeysFromEnv(db, personKeys, config, { renewAfterShred: true }).vault,
    };
    // Rows written before per-person keys are sealed before anything reads them (issue 18).
    const sealed = {
      ...(await sealPlaintextUsers(db, services.personKeys)),
      ...(await sealPlaintextClientData(db, services.personKeys)),
      invitations: await sealPlaintextInvitations(db, services.personKeys, services.guestVault),
    };
    if (Object.values(sealed).some(Boolean)) log.info(sealed, 'plaintext personal data sealed');
    const bootstrapAdmin = bootstrapAdminFrom(config);
    if (bootstrapAdmin) {
      const { userId, outcome } = await ensurePlatformAdmin(db, services, bootstrapAdmin, {
        setPassword: false,
      });
      log.info({ userId, outcome }, 'bootstrap platform administrator ensured');
    }
    return {
      services,
      // Identity checks its own tokens against its key store, without an HTTP round trip to itself.
      tokenKeys: keys.getKey,
      // The access log's head, anchored outside the database (domain/access-log.ts, issue 18).
      // And privacy requests stuck in progress asked again, expired export archives deleted.
      background: (deps) => {
        // Security monitoring's series (adapters/security-metrics.ts) on this /metrics.
        securityMonitor.metrics.register(deps.registry);
        const anchor = startAuditAnchor(deps, config.AUDIT_ANCHOR_MS);
        const privacy = startPrivacyRequestSweep(
          { ...deps, dataKeys: services.dataKeys, personKeys: services.personKeys },
          config.PRIVACY_REQUEST_RETRY_MS,
        );
        // The regulator's 72-hour clock as gauges (domain/incident-queries.ts), refreshed every 30 s.
        const deadlines = startRegulatorDeadlineWatch(deps, 30_000);
        // Security events past SECURITY_EVENTS_RETENTION_DAYS deleted (domain/security-retention.ts).
        const retention = startSecurityEventsRetention(deps, config.SECURITY_EVENTS_RETENTION_DAYS);
        // API calls and GraphQL cost jumps announced (platform usage.ts, issue 19).
        const usageJumps = startUsageJumpWatch(deps, {
          tables: usage,
          event: published.usageJumped,
          rules: usageJumpRulesOf(config),
          intervalMs: config.USAGE_JUMP_CHECK_MS,
        });
        const sweeps = [anchor, privacy, deadlines, retention, usageJumps];
        return { stop: () => Promise.all(sweeps.map((sweep) => sweep.stop())).then(() => undefined) };
      },
      routes(app) {
        // A data export's archive, once, for its link's token (domain/privacy-requests.ts); the
        // gateway serves it at its own door (gateway/src/subgraph-files.ts). Never cached.
        app.get<{ Params: { file: string }; Querystring: { token?: unknown } }>(
          '/privacy/exports/:file',
          async (request, reply) => {
            const id = request.params.file.replace(/\.json$/, '');
            const { token } = request.query;
            if (!/^[0-9a-f-]{36}$/i.test(id) || typeof token !== 'string' || !token)
              return plainTextReply(reply, 404, 'no such export');
            const answer = await downloadExport({ db, dataKeys: services.dataKeys }, id, token);
            if (answer.status !== 200) return plainTextReply(reply, answer.status, answer.message);
            return reply
              .header('content-type', 'application/json; charset=utf-8')
              .header('content-disposition', `attachment; filename="${answer.fileName}"`)
              .header('cache-control', 'private, no-store')
              .header('x-content-type-options', 'nosniff')
              .send(answer.archive);
          },
        );
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
          const security = {
            sink: services.securityEvents,
            requestId: request.id,
            clientIp: clientAddress(request),
          };
          const exchanged = await exchangeApiKey({ db, keys, log, outbox, security }, secret);
          reply.header('cache-control', 'no-store');
          if (!exchanged) return reply.status(401).send({ error: 'invalid API key' });
          return exchanged;
        });
        // Alertmanager's webhook: the alerts, in-app to the platform admins (issue 19).
        registerAlertmanagerWebhook(app, {
          db,
          outbox,
          personKeys: services.personKeys,
          log,
          token: config.ALERTMANAGER_WEBHOOK_TOKEN,
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

/** Identity's columns under DATA_ENCRYPTION_KEYS, for `npm run keys:rotate`. */
export const encryptedColumns: EncryptedColumn[] = [PRIVATE_KEY_COLUMN, ARCHIVE_COLUMN];

// What tools beside the service may use, through this face only: the bench measures the raw
// password hash against a sign-in, end-to-end tests forge tokens with identity's real keys.
// stack/test/monitoring.test.ts checks the incident deadline alerts against these gauges.
export { createIncidentMetrics } from './adapters/incident-metrics.ts';
export { createPasswordHasher } from './adapters/password-hasher.ts';
// ... and the security alerts against security monitoring's counters.
export { createSecurityMetrics } from './adapters/security-metrics.ts';
export { openSigningKeys } from './domain/signing-keys.ts';
