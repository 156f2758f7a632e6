import { orderCreated } from '@bilten/contracts/orders';
import type { EventConsumer, People } from '@bilten/platform';
import { sealBuyer } from '../db/buyers.ts';
import { upsertOrderCharge } from '../db/queries.ts';

/**
 * Billing's copy of each order waiting for payment: the amount payOrder charges and who may pay.
 * An upsert, so applying it twice is harmless (the inbox already runs it once per event). The
 * buyer's name and address are sealed under their key; an order arriving after its buyer's
 * erasure is kept with the markers instead.
 */
export const orderChargeConsumer = (keys: People): EventConsumer<typeof orderCreated.payload> => ({
  name: 'order-charges',
  event: orderCreated,
  groupCommit: true,
  async handle({ payload }, tx) {
    const buyer = await sealBuyer(tx, keys, 'order_charges', payload.orderId, payload);
    await upsertOrderCharge(tx, {
      orderId: payload.orderId,
      eventId: payload.eventId,
      organizationId: payload.organizationId,
      buyerId: payload.buyerId,
      guestTokenHash: payload.guestTokenHash,
      ...buyer,
      eventTitle: payload.eventTitle,
      lines: payload.lines.map((line) => ({
        ticketTypeId: line.ticketTypeId,
        name: line.name,
        quantity: line.quantity,
        unitAmount: line.unitPrice.amount,
      })),
      subtotal: payload.subtotal.amount,
      fees: payload.fees.amount,
      taxes: payload.taxes.amount,
      taxBasisPoints: payload.taxBasisPoints,
      amount: payload.total.amount,
      currency: payload.total.currency,
      expiresAt: new Date(payload.expiresAt),
      refundPolicy: payload.refundPolicy,
      eventStartsAt: new Date(payload.eventStartsAt),
    });
  },
});
