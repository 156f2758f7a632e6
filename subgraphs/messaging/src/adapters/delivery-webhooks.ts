import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Database, type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { applyEmailEvents, applySmsStatus } from '../domain/engagement.ts';

/** Status callbacks are a few hundred bytes; a batch of email events a few kilobytes. */
const BODY_LIMIT_BYTES = 64 * 1024;
/** How old (or, with a skewed clock, how far ahead) a signed email webhook may be. */
const TOLERANCE_SECONDS = 5 * 60;

const sameBytes = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * `Bilten-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. Several v1 values are
 * accepted (a provider signs with the old and the new secret while it rotates). The timestamp is
 * signed too, so an old request cannot be replayed with a fresh one.
 */
function validEmailSignature(header: string | undefined, body: Buffer, secret: string, now: number) {
  if (!header) return false;
  const parts = header.split(',').map((part) => part.trim().split('=', 2) as [string, string?]);
  const timestamp = Number(parts.find(([name]) => name === 't')?.[1]);
  if (!Number.isInteger(timestamp) || Math.abs(now - timestamp) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return parts.some(([name, value]) => name === 'v1' && value !== undefined && sameBytes(value, expected));
}

/**
 * Twilio's request validation: base64 HMAC-SHA1, keyed with the auth token, of the full URL Twilio
 * called followed by every POST parameter, sorted by name, as name then value with nothing between.
 */
function validTwilioSignature(
  header: string | undefined,
  url: string,
  params: URLSearchParams,
  authToken: string,
) {
  if (!header) return false;
  const signed = [...params]
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .reduce((text, [name, value]) => text + name + value, url);
  return sameBytes(header, createHmac('sha1', authToken).update(signed).digest('base64'));
}

const emailEvents = z.object({
  events: z
    .array(
      z.object({
        type: z.enum(['delivered', 'bounce', 'complaint']),
        messageId: z.string().min(1).max(998),
        permanent: z.boolean().optional(),
        at: z.iso
          .datetime({ offset: true })
          .transform((at) => new Date(at))
          .optional(),
      }),
    )
    .max(500),
});

/**
 * `POST /webhooks/email` (the email provider's delivered/bounce/complaint events) and
 * `POST /webhooks/sms` (Twilio's status callback), passed on by the gateway. Each is refused (503)
 * while its secret is not configured, and answers 401 to a bad signature, changing nothing.
 * Bodies are read as bytes: the signatures cover exactly what was sent.
 */
export function registerDeliveryWebhooks(
  app: FastifyInstance,
  deps: {
    db: Database;
    config: {
      DELIVERY_WEBHOOK_SECRET?: string | undefined;
      SMS_AUTH_TOKEN?: string | undefined;
      PUBLIC_GATEWAY_URL: string;
    };
    log: Logger;
    now?: () => number;
  },
) {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  // Twilio signs the URL it was given, the gateway's public one, not this subgraph's.
  const smsWebhookUrl = `${deps.config.PUBLIC_GATEWAY_URL.replace(/\/+$/, '')}/webhooks/sms`;

  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );
    const bodyOf = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));

    scope.post('/webhooks/email', async (request, reply) => {
      const secret = deps.config.DELIVERY_WEBHOOK_SECRET;
      if (!secret) return plainTextReply(reply, 503, 'email webhooks are not configured');
      const body = bodyOf(request.body);
      const header = request.headers['bilten-signature'];
      if (!validEmailSignature(typeof header === 'string' ? header : undefined, body, secret, now())) {
        deps.log.warn({ security: true }, 'email webhook refused: bad or stale signature');
        return plainTextReply(reply, 401, 'signature is not valid');
      }
      let parsed: z.infer<typeof emailEvents>;
      try {
        parsed = emailEvents.parse(JSON.parse(body.toString('utf8')));
      } catch {
        return plainTextReply(
          reply,
          400,
          'expected {"events": [{"type", "messageId", "permanent"?, "at"?}]}',
        );
      }
      const { applied, ignored } = await applyEmailEvents(deps.db, parsed.events);
      return reply.send({ received: parsed.events.length, applied, ignored });
    });

    scope.post('/webhooks/sms', async (request, reply) => {
      const authToken = deps.config.SMS_AUTH_TOKEN;
      if (!authToken) return plainTextReply(reply, 503, 'SMS webhooks are not configured');
      const params = new URLSearchParams(bodyOf(request.body).toString('utf8'));
      const header = request.headers['x-twilio-signature'];
      if (
        !validTwilioSignature(
          typeof header === 'string' ? header : undefined,
          smsWebhookUrl,
          params,
          authToken,
        )
      ) {
        deps.log.warn({ security: true }, 'SMS webhook refused: bad signature');
        return plainTextReply(reply, 401, 'signature is not valid');
      }
      const messageSid = params.get('MessageSid');
      const messageStatus = params.get('MessageStatus');
      if (!messageSid || !messageStatus)
        return plainTextReply(reply, 400, 'MessageSid and MessageStatus are required');
      const known = await applySmsStatus(deps.db, {
        messageSid,
        messageStatus,
        errorCode: params.get('ErrorCode') || null,
      });
      return plainTextReply(reply, 200, known ? 'applied' : 'ignored');
    });
  });
}
