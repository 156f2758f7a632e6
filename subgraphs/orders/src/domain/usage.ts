import { requireUsageReader, usageOfMonth, type Viewer } from '@bilten/platform';
import type { Context } from '../context.ts';
import { usage } from '../db/schema.ts';

interface UsageReportKey {
  organizationId: string;
  month: string;
}

/**
 * `UsageReport.ticketsSold`: tickets issued for the organization's paid orders in the month
 * (metered in completePaidOrder), not net of refunds.
 */
export async function ticketUsageReport(ctx: Pick<Context, 'db'> & { viewer: Viewer }, key: UsageReportKey) {
  requireUsageReader(ctx.viewer, key.organizationId);
  const totals = await usageOfMonth(ctx.db, usage, key.organizationId, key.month, ['tickets_sold']);
  return { ...key, ticketsSold: totals.tickets_sold };
}
