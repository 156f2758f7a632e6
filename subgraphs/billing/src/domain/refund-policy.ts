import type { RefundPolicy } from '../db/schema.ts';

export type RefundDecision = { granted: true; amount: number } | { granted: false; reason: string };

const DAY_MS = 86_400_000;

const day = (at: Date) => at.toISOString().slice(0, 10);

const window = (days: number | null) =>
  days ? `${days} day${days === 1 ? '' : 's'} before the event` : "at the event's start";

/**
 * What a buyer's `requestRefund` is granted under the terms they bought with: `paid` (minor units)
 * in full while now ≤ start − n days (FULL_UNTIL), `percent` % of it rounded down to the minor unit
 * in the same window (PARTIAL; until the start when n is null), nothing under NONE. Refusals carry
 * the reason the buyer reads. Pure: the caller caps the amount at what is left to refund.
 */
export function refundByPolicy(
  policy: RefundPolicy,
  terms: { paid: number; eventStartsAt: Date; now: Date },
): RefundDecision {
  const { paid, eventStartsAt, now } = terms;
  if (policy.kind === 'NONE' || (policy.kind === 'PARTIAL' && !policy.percent))
    return { granted: false, reason: 'this event does not offer refunds' };
  const days = policy.daysBeforeStart && policy.daysBeforeStart > 0 ? policy.daysBeforeStart : null;
  const deadline = new Date(eventStartsAt.getTime() - (days ?? 0) * DAY_MS);
  if (now.getTime() > deadline.getTime())
    return { granted: false, reason: `refunds ended on ${day(deadline)} (${window(days)})` };
  if (policy.kind === 'FULL_UNTIL') return { granted: true, amount: paid };
  const percent = Math.min(Math.max(policy.percent ?? 0, 0), 100);
  // Integer arithmetic: no float rounding up a cent.
  return { granted: true, amount: Math.floor((paid * percent) / 100) };
}
