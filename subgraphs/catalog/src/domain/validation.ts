import { currencyCode, displayText, moneyInput, timeZone, type UserError, uuidInput } from '@bilten/platform';
import { z } from 'zod';
import { EVENT_CATEGORIES, EVENT_VISIBILITIES, REFUND_POLICY_KINDS } from '../db/schema.ts';
import { MAX_DESCRIPTION_SOURCE_CHARS, renderDescription } from './description.ts';

const REGIONS = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
// Codes the runtime names but ISO 3166-1 has not assigned to a country (private use, EU, UN...).
const NOT_A_COUNTRY = /^(AA|Q[M-Z]|X[A-JL-Z]|ZZ|EU|EZ|UN)$/;

const countryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, 'must be a two-letter ISO 3166-1 code in upper case')
  .refine(
    (code) => !NOT_A_COUNTRY.test(code) && REGIONS.of(code) !== undefined,
    'is not an ISO 3166-1 country',
  );

const venue = z
  .object({
    name: displayText(200),
    address: displayText(300),
    city: displayText(100),
    country: countryCode,
    latitude: z
      .number()
      .min(-90, 'must be between -90 and 90')
      .max(90, 'must be between -90 and 90')
      .nullish(),
    longitude: z
      .number()
      .min(-180, 'must be between -180 and 180')
      .max(180, 'must be between -180 and 180')
      .nullish(),
  })
  .refine((place) => (place.latitude == null) === (place.longitude == null), {
    message: 'give both latitude and longitude, or neither',
    path: ['longitude'],
  });

const webUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an http or https URL');

/** Markdown in, `{ description, descriptionHtml }` out; unsafe markup is refused, not repaired. */
const description = z
  .string()
  .max(MAX_DESCRIPTION_SOURCE_CHARS, `must be at most ${MAX_DESCRIPTION_SOURCE_CHARS} characters`)
  .transform((source, ctx) => {
    const rendered = renderDescription(source);
    if (!rendered.ok) {
      ctx.addIssue({ code: 'custom', message: rendered.message });
      return z.NEVER;
    }
    return { description: rendered.description, descriptionHtml: rendered.descriptionHtml };
  });

const tags = z
  .array(displayText(30).transform((tag) => tag.toLowerCase()))
  .max(10, 'at most 10 tags')
  .transform((list) => [...new Set(list)]);

const refundPolicy = z
  .object({
    kind: z.enum(REFUND_POLICY_KINDS),
    daysBeforeStart: z.number().int().min(0, 'must be 0–365').max(365, 'must be 0–365').nullish(),
    percent: z.number().int().min(1, 'must be 1–99').max(99, 'must be 1–99').nullish(),
  })
  .superRefine((policy, ctx) => {
    const needsDays = policy.kind !== 'NONE';
    if (needsDays && policy.daysBeforeStart == null)
      ctx.addIssue({ code: 'custom', message: `is required for ${policy.kind}`, path: ['daysBeforeStart'] });
    if (!needsDays && policy.daysBeforeStart != null)
      ctx.addIssue({ code: 'custom', message: 'must be empty for NONE', path: ['daysBeforeStart'] });
    if (policy.kind === 'PARTIAL' && policy.percent == null)
      ctx.addIssue({ code: 'custom', message: 'is required for PARTIAL', path: ['percent'] });
    if (policy.kind !== 'PARTIAL' && policy.percent != null)
      ctx.addIssue({ code: 'custom', message: 'is only for PARTIAL', path: ['percent'] });
  });

const capacity = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(1_000_000, 'must be at most 1000000');

/** Every field of an event's definition, each validated on its own. */
const eventFields = {
  title: displayText(200),
  description: description.nullish(),
  category: z.enum(EVENT_CATEGORIES),
  tags,
  imageIds: z.array(uuidInput).max(10, 'at most 10 images'),
  startsAt: z.date(),
  endsAt: z.date(),
  timezone: timeZone,
  venue: venue.nullish(),
  onlineUrl: webUrl.nullish(),
  currency: currencyCode,
  capacity,
  refundPolicy: refundPolicy.nullish(),
  visibility: z.enum(EVENT_VISIBILITIES),
};

export const createEventInput = z.object({
  organizationId: uuidInput,
  ...eventFields,
  category: eventFields.category.nullish(),
  tags: eventFields.tags.nullish(),
  imageIds: eventFields.imageIds.nullish(),
  visibility: eventFields.visibility.nullish(),
});

const eventDefinition = z.object(eventFields).partial();

/** Left out: unchanged. Null: cleared, for the optional fields; refused for the rest. */
export const updateEventInput = eventDefinition.extend({ id: uuidInput, expectedVersion: z.number().int() });

/** The fields of an event's definition that a change sets. */
export type EventDefinitionInput = z.output<typeof eventDefinition>;

const perOrder = z.number().int().min(1, 'must be 1–100').max(100, 'must be 1–100');

const ticketTypeFields = {
  name: displayText(100),
  price: moneyInput,
  capacity,
  salesStartAt: z.date().nullish(),
  salesEndAt: z.date().nullish(),
  minPerOrder: perOrder,
  maxPerOrder: perOrder,
  maxPerBuyer: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(1_000_000, 'must be at most 1000000')
    .nullish(),
  transferable: z.boolean(),
  hidden: z.boolean(),
  sortOrder: z.number().int().min(-10_000).max(10_000),
};

export const addTicketTypeInput = z.object({
  eventId: uuidInput,
  ...ticketTypeFields,
  minPerOrder: perOrder.nullish(),
  maxPerOrder: perOrder.nullish(),
  transferable: z.boolean().nullish(),
  hidden: z.boolean().nullish(),
  sortOrder: ticketTypeFields.sortOrder.nullish(),
});

export const updateTicketTypeInput = z.object({
  id: uuidInput,
  name: ticketTypeFields.name.optional(),
  price: ticketTypeFields.price.optional(),
  capacity: ticketTypeFields.capacity.optional(),
  salesStartAt: ticketTypeFields.salesStartAt,
  salesEndAt: ticketTypeFields.salesEndAt,
  minPerOrder: perOrder.optional(),
  maxPerOrder: perOrder.optional(),
  maxPerBuyer: ticketTypeFields.maxPerBuyer,
  transferable: z.boolean().optional(),
  hidden: z.boolean().optional(),
  sortOrder: ticketTypeFields.sortOrder.optional(),
});

export const idInput = z.object({ id: uuidInput });
export const cancelEventInput = z.object({ id: uuidInput, reason: displayText(500).nullish() });
export const duplicateEventInput = z.object({
  id: uuidInput,
  title: eventFields.title.nullish(),
  startsAt: z.date().nullish(),
});
export const addOccurrencesInput = z.object({
  eventId: uuidInput,
  startsAt: z.array(z.date()).min(1, 'give at least one start').max(52, 'at most 52 at once'),
});
export const restoreEventVersionInput = z.object({
  eventId: uuidInput,
  version: z.number().int().min(1),
  expectedVersion: z.number().int(),
});

/** A field the rules refuse, as a payload error. */
export const invalid = (message: string, field: string[]): UserError => ({
  code: 'INVALID_INPUT',
  message,
  field,
});
/** An event id that names no event, as a payload error. */
export const eventNotFound = (field: string[]): UserError => ({
  code: 'NOT_FOUND',
  message: 'no such event',
  field,
});

/** The rules between fields of an event, checked on its state after the change. */
export function eventRuleErrors(event: { startsAt: Date; endsAt: Date }): UserError[] {
  return event.endsAt > event.startsAt ? [] : [invalid('must be after startsAt', ['input', 'endsAt'])];
}

/**
 * The sales window must be ordered and close by the event's end; the limits must let a buyer
 * order at least `minPerOrder`.
 */
export function salesWindowErrors(
  ticketType: {
    salesStartAt: Date | null;
    salesEndAt: Date | null;
    minPerOrder: number;
    maxPerOrder: number;
    maxPerBuyer: number | null;
  },
  event: { endsAt: Date },
): UserError[] {
  const errors: UserError[] = [];
  const { salesStartAt, salesEndAt } = ticketType;
  if (salesStartAt && salesEndAt && salesEndAt <= salesStartAt)
    errors.push(invalid('must be after salesStartAt', ['input', 'salesEndAt']));
  if (salesEndAt && salesEndAt > event.endsAt)
    errors.push(invalid("must not be after the event's end", ['input', 'salesEndAt']));
  if (salesStartAt && salesStartAt >= event.endsAt)
    errors.push(invalid("must be before the event's end", ['input', 'salesStartAt']));
  if (ticketType.maxPerOrder < ticketType.minPerOrder)
    errors.push(invalid('must not be less than minPerOrder', ['input', 'maxPerOrder']));
  if (ticketType.maxPerBuyer !== null && ticketType.maxPerBuyer < ticketType.minPerOrder)
    errors.push(invalid('must not be less than minPerOrder', ['input', 'maxPerBuyer']));
  return errors;
}

/**
 * What a change to an event must keep true beyond its own fields: a published event stays
 * publishable (a venue or an online URL, a start not moved into the past) and every ticket type
 * still stops selling by the event's end, the rule `salesWindowErrors` applies to ticket types.
 */
export function changeRuleErrors(
  before: { status: string; startsAt: Date; venueName: string | null; onlineUrl: string | null },
  after: { startsAt: Date; endsAt: Date; venueName: string | null; onlineUrl: string | null },
  ticketTypes: Array<Parameters<typeof salesWindowErrors>[0] & { name: string }>,
): UserError[] {
  const errors: UserError[] = [];
  if (before.status === 'PUBLISHED') {
    if (after.startsAt.getTime() !== before.startsAt.getTime() && after.startsAt <= new Date())
      errors.push(invalid('a published event cannot move its start into the past', ['input', 'startsAt']));
    if (!after.venueName && !after.onlineUrl) {
      const message = 'a published event needs a venue or an online URL';
      if (before.venueName) errors.push(invalid(message, ['input', 'venue']));
      if (before.onlineUrl) errors.push(invalid(message, ['input', 'onlineUrl']));
    }
  }
  const sellingPastEnd = ticketTypes.filter((type) => salesWindowErrors(type, after).length > 0);
  if (sellingPastEnd.length) {
    const names = sellingPastEnd.map((type) => `"${type.name}"`).join(', ');
    errors.push(
      invalid(`must not come before the end of ticket sales (${names}): change their sales windows first`, [
        'input',
        'endsAt',
      ]),
    );
  }
  return errors;
}
