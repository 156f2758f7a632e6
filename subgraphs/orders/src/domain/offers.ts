import { eventOfferChanged } from '@bilten/contracts/catalog';
import type { EventConsumer } from '@bilten/platform';
import { saveOffer } from '../db/offers.ts';

/**
 * Orders' own copy of what it sells, so that a sale never waits on catalog. Each message is a
 * whole snapshot of one event's offer; applied in sequence order per event (a late, older
 * snapshot never overwrites a newer one) and once (the inbox), it simply replaces the copy.
 */
export const offerCopyConsumer: EventConsumer<typeof eventOfferChanged.payload> = {
  name: 'offer-copy',
  event: eventOfferChanged,
  ordered: true,
  async handle({ payload }, tx) {
    await saveOffer(
      tx,
      {
        eventId: payload.eventId,
        organizationId: payload.organizationId,
        title: payload.title,
        status: payload.status,
        startsAt: new Date(payload.startsAt),
        endsAt: new Date(payload.endsAt),
        timezone: payload.timezone,
        currency: payload.currency,
        capacity: payload.capacity,
        refundPolicy: payload.refundPolicy,
      },
      payload.ticketTypes.map((type) => ({
        id: type.ticketTypeId,
        eventId: payload.eventId,
        name: type.name,
        priceAmount: type.priceAmount,
        capacity: type.capacity,
        salesStartAt: type.salesStartAt ? new Date(type.salesStartAt) : null,
        salesEndAt: type.salesEndAt ? new Date(type.salesEndAt) : null,
        minPerOrder: type.minPerOrder,
        maxPerOrder: type.maxPerOrder,
        maxPerBuyer: type.maxPerBuyer,
        transferable: type.transferable,
        hidden: type.hidden,
      })),
    );
  },
};
