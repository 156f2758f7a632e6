import {
  recordUsage,
  requireUsageReader,
  type Transaction,
  usageOfMonth,
  type Viewer,
} from '@bilten/platform';
import type { Context } from '../context.ts';
import { type AssetRow, usage } from '../db/schema.ts';

/**
 * An organization's stored bytes (issue 19): every variant of its assets, each counted for the
 * organization that uploaded it (identical bytes are stored once, but each owner is charged). A
 * gauge metered as deltas: +bytes on upload, -bytes on delete, in the same transaction.
 */
export function meterStoredBytes(tx: Transaction, asset: AssetRow, sign: 1 | -1) {
  const bytes = asset.variants.reduce((sum, variant) => sum + variant.byteSize, 0);
  return recordUsage(tx, usage, {
    organizationId: asset.organizationId,
    metric: 'storage_bytes',
    quantity: sign * bytes,
  });
}

interface UsageReportKey {
  organizationId: string;
  month: string;
}

/** `UsageReport.storageBytes`: what was stored when the month ended (now, for the current month). */
export async function storageUsageReport(ctx: Pick<Context, 'db'> & { viewer: Viewer }, key: UsageReportKey) {
  requireUsageReader(ctx.viewer, key.organizationId);
  const totals = await usageOfMonth(ctx.db, usage, key.organizationId, key.month, ['storage_bytes']);
  return { ...key, storageBytes: totals.storage_bytes };
}
