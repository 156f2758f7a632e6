import { createHmac, timingSafeEqual } from 'node:crypto';
import { escapeHtml, keyFromSecret, type Logger, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import type { Category, Channel } from '../db/schema.ts';
import { CATEGORIES, CHANNELS, CRITICAL_CATEGORIES } from '../domain/delivery-rules.ts';

/** What one unsubscribe link turns off: one user's one category on one channel. */
export interface OptOut {
  userId: string;
  category: Category;
  channel: Channel;
}

export interface UnsubscribeLinks {
  /** The HTTPS link for a mail's List-Unsubscribe header and its visible link. */
  link(optOut: OptOut): string;
  /** The opt-out a token names, or null for a forged, tampered or malformed one. */
  open(token: string): OptOut | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Stateless tokens (nothing stored, they never expire: RFC 8058 links must keep working): the
 * opt-out encoded, then an HMAC of it under a key derived from MAIL_LINK_SECRET for this use alone.
 */
export function createUnsubscribeLinks(options: {
  env: { NODE_ENV: string; MAIL_LINK_SECRET?: string | undefined };
  /** PUBLIC_GATEWAY_URL: the gateway passes `/unsubscribe` on to messaging. */
  gateway: string;
}): UnsubscribeLinks {
  const key = keyFromSecret({
    env: options.env,
    variable: 'MAIL_LINK_SECRET',
    secret: options.env.MAIL_LINK_SECRET,
    developmentSecret: 'bilten-development-only-mail-link-secret',
    salt: 'bilten',
    info: 'unsubscribe-links',
  });
  const mac = (body: string) => createHmac('sha256', key).update(`unsubscribe:${body}`).digest('base64url');
  const base = `${options.gateway.replace(/\/+$/, '')}/unsubscribe`;
  return {
    link({ userId, category, channel }) {
      const body = Buffer.from(`${userId}:${category}:${channel}`).toString('base64url');
      return `${base}?token=${body}.${mac(body)}`;
    },
    open(token) {
      const [body, signature, ...rest] = token.split('.');
      if (!body || !signature || rest.length || token.length > 200) return null;
      const expected = Buffer.from(mac(body));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      const [userId, category, channel] = Buffer.from(body, 'base64url').toString().split(':');
      if (!userId || !UUID.test(userId)) return null;
      if (!CATEGORIES.includes(category as Category) || !CHANNELS.includes(channel as Channel)) return null;
      // Never minted for these; a valid one would still turn nothing critical off.
      if (CRITICAL_CATEGORIES.has(category as Category)) return null;
      return { userId, category: category as Category, channel: channel as Channel };
    },
  };
}

const CATEGORY_WORDS: Record<Category, string> = {
  TRANSACTIONAL: 'order',
  EVENT_UPDATES: 'event update',
  ANNOUNCEMENTS: 'announcement',
  MARKETING: 'marketing',
  ACCOUNT_SECURITY: 'account security',
};

const CHANNEL_WORDS: Record<Channel, string> = {
  EMAIL: 'emails',
  IN_APP: 'in-app notifications',
  WEB_PUSH: 'push notifications',
  SMS: 'text messages',
};

const describe = ({ category, channel }: OptOut) => `${CATEGORY_WORDS[category]} ${CHANNEL_WORDS[channel]}`;

/**
 * `POST /unsubscribe?token=…` (RFC 8058 one-click: mail clients post `List-Unsubscribe=One-Click`,
 * no cookies, no login): turns the token's category and channel off and answers 200, never a
 * redirect. `GET` shows a page with a button that posts the same (no script), so a link scanner
 * following the link turns nothing off. Any other token: 400.
 */
export function registerUnsubscribe(
  app: FastifyInstance,
  deps: { links: UnsubscribeLinks; optOut(optOut: OptOut): Promise<void>; log: Logger },
) {
  app.register(async (scope) => {
    // Mail clients post a tiny form; whatever the type, the token in the query is what counts.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4096 }, (_request, _body, done) =>
      done(null, undefined),
    );
    type UnsubscribeRequest = { Querystring: { token?: unknown } };
    const optOutOf = (token: unknown) => (typeof token === 'string' ? deps.links.open(token) : null);

    scope.get<UnsubscribeRequest>('/unsubscribe', async (request, reply) => {
      const optOut = optOutOf(request.query.token);
      if (!optOut) return plainTextReply(reply, 400, 'this unsubscribe link is not valid');
      const token = escapeHtml(encodeURIComponent(request.query.token as string));
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        )
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .send(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
            `<title>Unsubscribe</title></head><body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">` +
            `<h1>Unsubscribe</h1><p>Stop ${escapeHtml(describe(optOut))} from Bilten?</p>` +
            `<form method="post" action="?token=${token}"><button type="submit">Unsubscribe</button></form>` +
            `<p>You can turn them on again in your notification preferences.</p></body></html>`,
        );
    });

    scope.post<UnsubscribeRequest>('/unsubscribe', async (request, reply) => {
      const optOut = optOutOf(request.query.token);
      if (!optOut) {
        deps.log.warn({ security: true }, 'unsubscribe refused: the token is not one we signed');
        return plainTextReply(reply, 400, 'this unsubscribe link is not valid');
      }
      await deps.optOut(optOut);
      return plainTextReply(reply, 200, `You are unsubscribed from ${describe(optOut)}.`);
    });
  });
}
