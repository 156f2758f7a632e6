import { createHmac, timingSafeEqual } from 'node:crypto';
import { keyFromSecret, linkTokenSeal } from '@bilten/platform';
import type { OrdersConfig } from '../config.ts';
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
  /** The token sealed for this ticket under MAIL_LINK_SECRET: what events carry for messaging. */
  sealed(ticketId: string): string;
}

export function createTicketLinks(env: TicketKeyEnv & Pick<OrdersConfig, 'MAIL_LINK_SECRET'>): TicketLinks {
  const mailLinks = linkTokenSeal(env);
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
    sealed: (ticketId) => mailLinks.seal(token(ticketId), ticketId),
  };
}
