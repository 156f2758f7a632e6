import { createHash, timingSafeEqual } from 'node:crypto';
import { type Database, type Logger, type Outbox, type PersonKeys, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { alertmanagerPayload, announcePlatformAlerts } from '../domain/platform-alerts.ts';

/** A notification of a large group (1,000 alerts with their annotations) stays well under this. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** Compared as digests: equal lengths, so neither the token's bytes nor its length leak through timing. */
const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `POST /internal/alertmanager`: Alertmanager's webhook (k8s/monitoring/alertmanager.yml), its
 * alerts announced to the platform admins (domain/platform-alerts.ts). Refused (503) while
 * ALERTMANAGER_WEBHOOK_TOKEN is unset, 401 without that bearer token, 400 for anything but a
 * version 4 payload; 202 once the alerts are in the outbox.
 */
export function registerAlertmanagerWebhook(
  app: FastifyInstance,
  deps: {
    db: Database;
    outbox: Outbox;
    personKeys: PersonKeys;
    log: Logger;
    token: string | undefined;
  },
) {
  const expected = deps.token === undefined ? undefined : digest(`Bearer ${deps.token}`);
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );
    scope.post('/internal/alertmanager', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!expected) return plainTextReply(reply, 503, 'the Alertmanager webhook is not configured');
      if (!timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
        deps.log.warn({ security: true }, 'Alertmanager webhook refused: missing or wrong bearer token');
        reply.header('www-authenticate', 'Bearer');
        return plainTextReply(reply, 401, 'a valid bearer token is required');
      }
      let json: unknown;
      try {
        json = JSON.parse(typeof request.body === 'string' ? request.body : '');
      } catch {
        return plainTextReply(reply, 400, 'the body is not JSON');
      }
      const parsed = alertmanagerPayload.safeParse(json);
      if (!parsed.success) {
        const [issue] = parsed.error.issues;
        return plainTextReply(
          reply,
          400,
          `not an Alertmanager webhook payload (version 4): ${issue!.path.join('.') || 'body'}: ${issue!.message}`,
        );
      }
      const outcome = await announcePlatformAlerts(deps, parsed.data);
      deps.log.info(outcome, 'Alertmanager notification received');
      return reply.status(202).send(outcome);
    });
  });
}
