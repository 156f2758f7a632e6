import { createHmac, timingSafeEqual } from 'node:crypto';
import { keyFromSecret } from '@bilten/platform';
import { DEV_SECRET, type TicketKeyEnv } from './ticket-keys.ts';

// A ticket's link (`GET /tickets/{id}.pdf?token=…`) opens it without signing in: the token is an
// HMAC of the ticket id under a key derived from TICKET_KEY_ENCRYPTION_SECRET, so nothing is
// stored, and a guest or a transfer's recipient gets their ticket from the mail alone. Events carry
// it sealed under MAIL_LINK_SECRET (linkTokenSeal), for messaging alone to open.

export interface TicketLinks {
  /** The token that opens this ticket's link. */
  token(ticketId: string): string;
  /** Whether `token` opens this ticket (constant time). */
  opens(ticketId: string, token: string): boolean;
}

export function createTicketLinks(env: TicketKeyEnv): TicketLinks {
  const key = keyFromSecret({
    env,
    variable: 'TICKET_KEY_ENCRYPTION_SECRET',
    secret: env.TICKET_KEY_ENCRYPTION_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten-orders',
    info: 'ticket-links',
  });
  const token = (ticketId: string) =>
    createHmac('sha256', key).update(`ticket:${ticketId}`).digest('base64url');
  return {
    token,
    opens(ticketId, candidate) {
      const expected = Buffer.from(token(ticketId));
      const given = Buffer.from(candidate);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
