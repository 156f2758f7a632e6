import {
  currencyCode,
  type Database,
  displayText,
  moneyInput,
  timeZone,
  type UserError,
  userErrorsFrom,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { eventsByIds, insertEvent, insertTicketType } from '../db/queries.ts';
import type { EventRow, TicketTypeRow } from '../db/schema.ts';

const createEventInput = z
  .object({
    organizationId: uuidInput,
    title: displayText(200),
    description: z.string().max(20_000, 'must be at most 20000 characters').nullish(),
    startsAt: z.date(),
    endsAt: z.date(),
    timezone: timeZone,
    currency: currencyCode,
  })
  .refine((event) => event.endsAt > event.startsAt, { message: 'must be after startsAt', path: ['endsAt'] });

export async function createEvent(
  db: Database,
  input: unknown,
): Promise<{ event: EventRow | null; errors: UserError[] }> {
  const parsed = createEventInput.safeParse(input);
  if (!parsed.success) return { event: null, errors: userErrorsFrom(parsed.error) };
  const event = await insertEvent(db, {
    id: uuidv7(),
    ...parsed.data,
    description: parsed.data.description ?? null,
  });
  return { event, errors: [] };
}

const addTicketTypeInput = z.object({
  eventId: uuidInput,
  name: displayText(100),
  price: moneyInput,
  capacity: z.number().int().min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000'),
});

export async function addTicketType(
  db: Database,
  input: unknown,
): Promise<{ ticketType: TicketTypeRow | null; errors: UserError[] }> {
  const parsed = addTicketTypeInput.safeParse(input);
  if (!parsed.success) return { ticketType: null, errors: userErrorsFrom(parsed.error) };
  const { eventId, name, price, capacity } = parsed.data;
  const [event] = await eventsByIds(db, [eventId]);
  if (!event) {
    return {
      ticketType: null,
      errors: [{ code: 'NOT_FOUND', message: 'no such event', field: ['input', 'eventId'] }],
    };
  }
  if (price.currency !== event.currency) {
    return {
      ticketType: null,
      errors: [
        {
          code: 'INVALID_INPUT',
          message: `must be in the event's currency ${event.currency}`,
          field: ['input', 'price', 'currency'],
        },
      ],
    };
  }
  const ticketType = await insertTicketType(db, {
    id: uuidv7(),
    eventId,
    name,
    priceAmount: price.amount,
    priceCurrency: price.currency,
    capacity,
  });
  return { ticketType, errors: [] };
}
