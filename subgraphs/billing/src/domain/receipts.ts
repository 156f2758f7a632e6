import { receiptIssued } from '@bilten/contracts/billing';
import type { Logger, Outbox, People, Transaction } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import type { ReceiptLinks } from '../adapters/receipt-links.ts';
import type { Context } from '../context.ts';
import { type Buyer, openBuyer, sealBuyer } from '../db/buyers.ts';
import { organizationById } from '../db/organizations.ts';
import { orderCharge, refundsOfOrder } from '../db/queries.ts';
import {
  firstReceiptNumber,
  insertReceipt,
  orderChargeForUpdate,
  receiptOfOrder as storedReceiptOfOrder,
  takeReceiptNumber,
} from '../db/receipts.ts';
import type {
  OrderChargeRow,
  PaymentRow,
  ReceiptKind,
  ReceiptLine,
  ReceiptRow,
  RefundRow,
  receipts,
} from '../db/schema.ts';
import { maySeePayments } from './access.ts';
import { RECEIPT_FIELDS, reportMoneyRead } from './access-reports.ts';

export interface ReceiptDeps {
  outbox: Outbox;
  log: Logger;
  /** Seals the PDF link's token into receiptIssued, for messaging's mail. */
  receiptLinks: ReceiptLinks;
  /** Opens the order's buyer and seals them onto the receipt (db/buyers.ts). */
  buyerKeys: People;
}

// ---------------------------------------------------------------- numbers

/** The prefix when billing has not heard of the organization, or its slug has nothing usable. */
const FALLBACK_PREFIX = 'ORG';

/** The slug upper-cased, letters, digits and dashes only, at most 20 characters. */
export function numberPrefix(slug: string | undefined): string {
  const prefix = (slug ?? '')
    .toUpperCase()
    .replace(/[^A-Z0-9-]/g, '')
    .slice(0, 20)
    .replace(/^-+|-+$/g, '');
  return prefix || FALLBACK_PREFIX;
}

/** SEVDAH-2026-000123 for a receipt, SEVDAH-CN-2026-000007 for a credit note. */
export const receiptNumber = (prefix: string, kind: ReceiptKind, year: number, sequence: number) =>
  [prefix, ...(kind === 'CREDIT_NOTE' ? ['CN'] : []), year, String(sequence).padStart(6, '0')].join('-');

/** The prefix of a number this module made (see receiptNumber). */
const prefixOf = (number: string) => number.replace(/(-CN)?-\d{4}-\d+$/, '');

/**
 * Who sells, as billing knows the organization now (a rename shows on later receipts only), and the
 * prefix of their numbers: the slug's when the first receipt was issued, so that a renamed slug does
 * not change the series. Without billing's copy (identity's organizationCreated still behind the
 * payment in the stream, which its order makes rare) the organization's id is the seller's name:
 * the only true name billing has, and a receipt is frozen once issued.
 */
async function seller(tx: Transaction, organizationId: string) {
  const [organization, first] = await Promise.all([
    organizationById(tx, organizationId),
    firstReceiptNumber(tx, organizationId),
  ]);
  return {
    name: organization?.name ?? organizationId,
    prefix: first ? prefixOf(first) : numberPrefix(organization?.slug),
  };
}

/** Takes the next number and stores the receipt, in the caller's transaction, then announces it. */
async function issue(
  tx: Transaction,
  deps: ReceiptDeps,
  kind: ReceiptKind,
  charge: OrderChargeRow,
  content: Pick<
    typeof receipts.$inferInsert,
    | 'paymentId'
    | 'refundId'
    | 'creditedReceiptId'
    | 'lines'
    | 'currency'
    | 'subtotal'
    | 'fees'
    | 'taxes'
    | 'taxBasisPoints'
    | 'total'
  >,
): Promise<ReceiptRow> {
  const issuedAt = new Date();
  const year = issuedAt.getUTCFullYear();
  const { name, prefix } = await seller(tx, charge.organizationId);
  const sequence = await takeReceiptNumber(tx, charge.organizationId, kind, year);
  const id = uuidv7();
  const buyer = await openBuyer(tx, deps.buyerKeys, 'order_charges', charge.orderId, charge);
  const receipt = await insertReceipt(tx, {
    id,
    organizationId: charge.organizationId,
    orderId: charge.orderId,
    kind,
    number: receiptNumber(prefix, kind, year, sequence),
    year,
    sequence,
    issuedAt,
    sellerName: name,
    buyerId: charge.buyerId,
    ...(await sealBuyer(tx, deps.buyerKeys, 'receipts', id, { ...buyer, buyerId: charge.buyerId })),
    eventTitle: charge.eventTitle,
    ...content,
  });
  await deps.outbox.publish(tx, receiptIssued, receipt.id, {
    receiptId: receipt.id,
    orderId: receipt.orderId,
    organizationId: receipt.organizationId,
    kind,
    number: receipt.number,
    sellerName: receipt.sellerName,
    buyerEmail: buyer.buyerEmail,
    eventTitle: receipt.eventTitle,
    total: { amount: receipt.total, currency: receipt.currency },
    sealedLinkToken: deps.receiptLinks.sealed(receipt.id),
  });
  return receipt;
}

// ---------------------------------------------------------------- issuing

/**
 * The order's receipt, in the transaction that turns `payment` SUCCEEDED. One per order: a later
 * successful payment of a paid order (a duplicate, which orders refunds) gets none and takes no
 * number, since the order's row is locked and the receipt looked for before the number is taken.
 */
export async function issueReceipt(
  tx: Transaction,
  deps: ReceiptDeps,
  payment: PaymentRow,
): Promise<ReceiptRow | null> {
  const charge = await orderChargeForUpdate(tx, payment.orderId);
  if (!charge) {
    // A payment is only ever made for an order billing has (payOrder checks): a bug, not a race.
    deps.log.error(
      { paymentId: payment.id, orderId: payment.orderId },
      'no order contents to issue a receipt',
    );
    return null;
  }
  if (await storedReceiptOfOrder(tx, payment.orderId)) return null;
  const lines: ReceiptLine[] = charge.lines.map((line) => ({
    description: line.name,
    quantity: line.quantity,
    unitAmount: line.unitAmount,
    amount: line.quantity * line.unitAmount,
  }));
  const figures = { subtotal: charge.subtotal, fees: charge.fees, taxes: charge.taxes };
  const addsUp = figures.subtotal + figures.fees + figures.taxes === payment.amount && lines.length > 0;
  if (!addsUp)
    // A copy made before orders announced contents (orderCreated v1): the amount paid, as one line.
    deps.log.warn(
      { paymentId: payment.id, orderId: payment.orderId },
      'order contents do not add up to the payment',
    );
  return issue(tx, deps, 'RECEIPT', charge, {
    paymentId: payment.id,
    refundId: null,
    creditedReceiptId: null,
    lines: addsUp
      ? lines
      : [
          {
            description: charge.eventTitle || 'Tickets',
            quantity: 1,
            unitAmount: payment.amount,
            amount: payment.amount,
          },
        ],
    currency: payment.currency,
    ...(addsUp ? figures : { subtotal: payment.amount, fees: 0, taxes: 0 }),
    taxBasisPoints: addsUp ? charge.taxBasisPoints : 0,
    total: payment.amount,
  });
}

/** orders' refund reasons in words; any other reason (an organizer's own) as written. */
const REFUND_REASONS: Record<string, string> = {
  EVENT_CANCELLED: 'event cancelled',
  CUSTOMER_REQUEST: 'requested by the buyer',
  PAID_AFTER_EXPIRY: 'paid after the order expired',
  DUPLICATE_PAYMENT: 'duplicate payment',
};

/**
 * `part` of `whole`'s subtotal, fees and taxes, in the receipt's proportions: integers that add up
 * to `part` exactly (the subtotal takes the rounding).
 */
export function splitLikeReceipt(part: number, whole: Pick<ReceiptRow, 'fees' | 'taxes' | 'total'>) {
  const share = (amount: number) => (whole.total > 0 ? Math.round((part * amount) / whole.total) : 0);
  const taxes = share(whole.taxes);
  const fees = share(whole.fees);
  return { subtotal: part - fees - taxes, fees, taxes };
}

/**
 * The refund's credit note, in the transaction that turns `refund` SUCCEEDED (which happens once:
 * that transition is guarded by the refund's status). Only a refund of the payment that has the
 * order's receipt gets one: a refunded duplicate payment had no receipt to correct.
 */
export async function issueCreditNote(
  tx: Transaction,
  deps: ReceiptDeps,
  refund: RefundRow,
): Promise<ReceiptRow | null> {
  const receipt = await storedReceiptOfOrder(tx, refund.orderId);
  if (!receipt || receipt.paymentId !== refund.paymentId) return null;
  // The order's receipt was issued from it, so it is there.
  const charge = await orderCharge(tx, refund.orderId);
  if (!charge) return null;
  const reason = REFUND_REASONS[refund.reason] ?? refund.reason;
  return issue(tx, deps, 'CREDIT_NOTE', charge, {
    paymentId: refund.paymentId,
    refundId: refund.id,
    creditedReceiptId: receipt.id,
    lines: [
      { description: `Refund: ${reason}`, quantity: 1, unitAmount: refund.amount, amount: refund.amount },
    ],
    currency: refund.currency,
    ...splitLikeReceipt(refund.amount, receipt),
    taxBasisPoints: receipt.taxBasisPoints,
    total: refund.amount,
  });
}

// ---------------------------------------------------------------- reading

type ReadContext = Pick<Context, 'db' | 'loaders' | 'viewer' | 'requestId' | 'outbox'>;

/** Whether the caller may read the order's receipts: whoever may read its payments. */
const maySeeReceiptsOf = async (ctx: ReadContext, orderId: string) =>
  maySeePayments(ctx.viewer, await ctx.loaders.orderCharge.load(orderId));

/** Reports the buyer's data shown on `receipts` when someone else reads them (issue 18). */
async function reportReceiptReads(ctx: ReadContext, orderId: string, receipts: ReceiptRow[]) {
  if (!receipts.length) return;
  const charge = await ctx.loaders.orderCharge.load(orderId);
  await Promise.all(
    receipts.map((receipt) => reportMoneyRead(ctx, charge, `receipt:${receipt.id}`, RECEIPT_FIELDS)),
  );
}

/**
 * `receipt(id:)`: for the order's buyer, its organization's ADMIN/OWNER and platform ADMINs; null
 * for anyone else and for ids that are unknown or not ids at all (the loader never sends those).
 */
export async function visibleReceipt(ctx: ReadContext, { id }: { id: string }): Promise<ReceiptRow | null> {
  const receipt = await ctx.loaders.receipt.load(id);
  if (!receipt || !(await maySeeReceiptsOf(ctx, receipt.orderId))) return null;
  await reportReceiptReads(ctx, receipt.orderId, [receipt]);
  return receipt;
}

/** `Order.receipt`, for the same callers. */
export async function receiptOfOrder(ctx: ReadContext, order: { id: string }): Promise<ReceiptRow | null> {
  if (!(await maySeeReceiptsOf(ctx, order.id))) return null;
  const issued = await ctx.loaders.receiptsOfOrder.load(order.id);
  const receipt = issued.find((receipt) => receipt.kind === 'RECEIPT') ?? null;
  if (receipt) await reportReceiptReads(ctx, order.id, [receipt]);
  return receipt;
}

/** `Order.creditNotes`, oldest first, for the same callers; to anyone else the order has none. */
export async function creditNotesOfOrder(ctx: ReadContext, order: { id: string }): Promise<ReceiptRow[]> {
  if (!(await maySeeReceiptsOf(ctx, order.id))) return [];
  const issued = await ctx.loaders.receiptsOfOrder.load(order.id);
  const creditNotes = issued.filter((receipt) => receipt.kind === 'CREDIT_NOTE');
  await reportReceiptReads(ctx, order.id, creditNotes);
  return creditNotes;
}

/** `Refund.creditNote`, for the same callers. */
export async function creditNoteOfRefund(ctx: ReadContext, refund: RefundRow): Promise<ReceiptRow | null> {
  if (!(await maySeeReceiptsOf(ctx, refund.orderId))) return null;
  const creditNote = await ctx.loaders.creditNoteOfRefund.load(refund.id);
  if (creditNote) await reportReceiptReads(ctx, refund.orderId, [creditNote]);
  return creditNote;
}

/** `Receipt.payments`: the order's SUCCEEDED payments (the receipt was shown to the caller already). */
export async function receiptPayments(ctx: ReadContext, receipt: ReceiptRow): Promise<PaymentRow[]> {
  const payments = await ctx.loaders.paymentsOfOrder.load(receipt.orderId);
  return payments.filter((payment) => payment.status === 'SUCCEEDED');
}

/** `Receipt.buyer`: the name and address in the clear, the markers once the buyer was erased. */
export const receiptBuyer = (ctx: Pick<Context, 'db' | 'buyerKeys'>, receipt: ReceiptRow): Promise<Buyer> =>
  openBuyer(ctx.db, ctx.buyerKeys, 'receipts', receipt.id, receipt);

/** `Receipt.refunds`: the order's refunds, oldest first. */
export const receiptRefunds = (ctx: ReadContext, receipt: ReceiptRow): Promise<RefundRow[]> =>
  refundsOfOrder(ctx.db, receipt.orderId);
