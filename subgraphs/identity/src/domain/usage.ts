import { usageJumped as brandingUsageJumped } from '@bilten/contracts/branding';
import { gatewayUsageRecorded } from '@bilten/contracts/gateway';
import { usageJumped as messagingUsageJumped } from '@bilten/contracts/messaging';
import { usageJumped as ordersUsageJumped } from '@bilten/contracts/orders';
import {
  DomainError,
  type EventConsumer,
  monthRange,
  type Outbox,
  type PersonKeys,
  recordUsage,
  requireUsageReader,
  type UsageMetric,
  usageOfMonth,
  uuidInput,
  type Viewer,
} from '@bilten/platform';
import type { IdentityConfig } from '../config.ts';
import type { Context } from '../context.ts';
import { usage } from '../db/schema.ts';
import { platformAdmins } from '../db/security.ts';
import { usageAlertRaised, usageJumped } from '../events.ts';

/**
 * The gateway's hourly counts of API-key calls (issue 19) into identity's rollups: once per event
 * id (the inbox), so a redelivered flush meters once. The gateway adds up in memory between
 * flushes: a gateway that crashes loses at most one flush interval (USAGE_FLUSH_INTERVAL_MS).
 */
export const gatewayUsageConsumer: EventConsumer<typeof gatewayUsageRecorded.payload> = {
  name: 'gateway-usage',
  event: gatewayUsageRecorded,
  groupCommit: true,
  async handle({ payload }, tx) {
    const at = new Date(payload.hour);
    await recordUsage(
      tx,
      usage,
      { organizationId: payload.organizationId, metric: 'api_calls', quantity: payload.apiCalls, at },
      { organizationId: payload.organizationId, metric: 'graphql_cost', quantity: payload.graphqlCost, at },
    );
  },
};

/**
 * Every metering subgraph's usage jumps (its own watch, platform usage.ts) become one alert to the
 * platform admins, whom only identity knows: messaging tells them in-app.
 */
export function usageJumpConsumers(deps: { outbox: Outbox; personKeys: PersonKeys }): EventConsumer[] {
  const from = (service: string, event: typeof usageJumped): EventConsumer<typeof event.payload> => ({
    name: `${service}-usage-jumped`,
    event,
    async handle({ payload }, tx) {
      const recipients = await platformAdmins(tx, deps.personKeys);
      await deps.outbox.publish(tx, usageAlertRaised, payload.organizationId, { ...payload, recipients });
    },
  });
  return [
    from('identity', usageJumped),
    from('orders', ordersUsageJumped),
    from('messaging', messagingUsageJumped),
    from('branding', brandingUsageJumped),
  ] as EventConsumer[];
}

export interface UsageReportKey {
  organizationId: string;
  month: string;
}

type UsageContext = Pick<Context, 'db'> & { viewer: Viewer };

/** `usageReport` (and its entity reference): the month's API calls and GraphQL cost, for its OWNER or a platform admin. */
export async function usageReport(ctx: UsageContext, args: UsageReportKey) {
  const parsed = uuidInput.safeParse(args.organizationId);
  if (!parsed.success) throw new DomainError('BAD_USER_INPUT', 'organizationId must be a UUID');
  const organizationId = parsed.data;
  requireUsageReader(ctx.viewer, organizationId);
  monthRange(args.month);
  const totals = await usageOfMonth(ctx.db, usage, organizationId, args.month, ['api_calls', 'graphql_cost']);
  return { organizationId, month: args.month, apiCalls: totals.api_calls, graphqlCost: totals.graphql_cost };
}

/** A report as identity resolves it: the other subgraphs' quantities come only where `@requires` asks for them. */
export type UsageReportParent = UsageReportKey & {
  apiCalls: number;
  graphqlCost: number;
} & Partial<PricedUsage>;

/** The report's quantities, as identity holds them and the other subgraphs provide them (`@requires`). */
export interface PricedUsage extends UsageReportKey {
  apiCalls: number;
  graphqlCost: number;
  ticketsSold: number;
  emails: number;
  sms: number;
  pushes: number;
  webhookDeliveries: number;
  storageBytes: number;
}

const QUANTITY_OF: Record<UsageMetric, (report: PricedUsage) => number> = {
  api_calls: (report) => report.apiCalls,
  graphql_cost: (report) => report.graphqlCost,
  tickets_sold: (report) => report.ticketsSold,
  emails: (report) => report.emails,
  sms: (report) => report.sms,
  pushes: (report) => report.pushes,
  webhook_deliveries: (report) => report.webhookDeliveries,
  storage_bytes: (report) => report.storageBytes,
};

type PriceSheet = IdentityConfig['USAGE_PRICE_SHEET'];

/** One line per metric, each amount rounded to a whole minor unit. */
export function usageLines(ctx: UsageContext, sheet: PriceSheet, report: PricedUsage) {
  requireUsageReader(ctx.viewer, report.organizationId);
  return (Object.keys(QUANTITY_OF) as UsageMetric[]).map((metric) => {
    const quantity = QUANTITY_OF[metric](report);
    const unitPrice = sheet.unitPrices[metric] ?? 0;
    return {
      metric,
      quantity,
      unitPrice,
      amount: { amount: Math.round(quantity * unitPrice), currency: sheet.currency },
    };
  });
}

/** `estimatedCost`: the sum of the lines. */
export function estimatedCost(ctx: UsageContext, sheet: PriceSheet, report: PricedUsage) {
  const lines = usageLines(ctx, sheet, report);
  return { amount: lines.reduce((sum, line) => sum + line.amount.amount, 0), currency: sheet.currency };
}
