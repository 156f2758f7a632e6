import { usageAlertRaised } from '@bilten/contracts/identity';
import {
  recordUsage,
  requireUsageReader,
  type Transaction,
  usageOfMonth,
  type Viewer,
} from '@bilten/platform';
import type { Context } from '../context.ts';
import { type Channel, usage } from '../db/schema.ts';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/** The metered channels; in-app notifications cost nothing to send. */
const CHANNEL_METRICS = { EMAIL: 'emails', SMS: 'sms', WEB_PUSH: 'pushes' } as const;

/**
 * A delivery SENT for an organization (issue 19), in the transaction that marks it sent. Account
 * mail (verification, resets) belongs to no organization and is not metered.
 */
export function meterSentDelivery(
  tx: Transaction,
  delivery: { organizationId: string | null; channel: Channel },
) {
  if (!delivery.organizationId || delivery.channel === 'IN_APP') return;
  return recordUsage(tx, usage, {
    organizationId: delivery.organizationId,
    metric: CHANNEL_METRICS[delivery.channel],
    quantity: 1,
  });
}

/** An organizer's webhook delivered (answered 2xx), in the transaction that records it. */
export function meterWebhookDelivery(tx: Transaction, organizationId: string) {
  return recordUsage(tx, usage, { organizationId, metric: 'webhook_deliveries', quantity: 1 });
}

interface UsageReportKey {
  organizationId: string;
  month: string;
}

/** `UsageReport.emails`, `sms`, `pushes`, `webhookDeliveries` for the month. */
export async function messagingUsageReport(
  ctx: Pick<Context, 'db'> & { viewer: Viewer },
  key: UsageReportKey,
) {
  requireUsageReader(ctx.viewer, key.organizationId);
  const totals = await usageOfMonth(ctx.db, usage, key.organizationId, key.month, [
    'emails',
    'sms',
    'pushes',
    'webhook_deliveries',
  ]);
  return {
    ...key,
    emails: totals.emails,
    sms: totals.sms,
    pushes: totals.pushes,
    webhookDeliveries: totals.webhook_deliveries,
  };
}

/**
 * Identity's usage alerts (issue 19): every platform admin it names gets one in-app, once per
 * (organization, metric, hour) (the inbox drops a redelivered alert).
 */
export const usageAlertWorkflow = defineWorkflow({
  name: 'usage-alert',
  kind: 'usageJump',
  event: usageAlertRaised,
  channels: ['IN_APP'],
  async *recipients({ payload }) {
    yield payload.recipients.map((recipient) => ({
      userId: recipient.userId,
      email: recipient.email,
      name: recipient.displayName,
    }));
  },
  data: async ({ payload }) => ({
    organizationId: payload.organizationId,
    metric: payload.metric,
    hour: payload.hour,
    quantity: String(payload.quantity),
    trailingHourlyMean: payload.trailingHourlyMean.toFixed(1),
  }),
});

export const usageAlertConsumer = (deps: WorkflowDeps) => workflowConsumer(usageAlertWorkflow, deps);
