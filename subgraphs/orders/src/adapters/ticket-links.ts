import { createFileLinks, type FileLinks } from '@bilten/platform';
import type { OrdersConfig } from '../config.ts';
import { DEV_SECRET, type TicketKeyEnv } from './ticket-keys.ts';

// A ticket's link (`GET /tickets/{id}.pdf?token=…`) opens it without signing in: a guest or a
// transfer's recipient gets their ticket from the mail alone (see createFileLinks).

export type TicketLinks = FileLinks;

export const createTicketLinks = (env: TicketKeyEnv & Pick<OrdersConfig, 'MAIL_LINK_SECRET'>): TicketLinks =>
  createFileLinks({
    env,
    kind: 'ticket',
    variable: 'TICKET_KEY_ENCRYPTION_SECRET',
    secret: env.TICKET_KEY_ENCRYPTION_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten-orders',
  });
