import { type Database, DomainError, type Logger, requireAdmin } from '@bilten/platform';
import type { Money, PaymentProviderAdapter, ProviderTransaction } from '../adapters/provider.ts';
import type { PaymentProviders } from '../adapters/providers.ts';
import type { Context } from '../context.ts';
import {
  paymentsWithProviderIds,
  providerAccountsLiveDuring,
  refundsWithProviderIds,
} from '../db/reconciliation.ts';
import type { PaymentProviderName } from '../db/schema.ts';
import type { ReconciliationMismatch, ReconciliationReport } from '../generated/graphql.ts';

// A day of each provider account's transactions (its list APIs) against billing's payments and
// refunds of that day, matched by the provider's id.
//
// The edge of the day: billing stamps a payment when it starts asking, the provider when it acts, so
// the two clocks can put one charge on both sides of midnight (23:59:59 here, 00:00:01 there; a
// payment the stale sweeper finished a few minutes later lands even further). Both sides are
// therefore read EDGE_MS wider than the day, and only a transaction of the day that has no partner
// in the wider window is called missing; a pair across midnight is compared on both days' reports.

const DAY_MS = 86_400_000;
/** How far past the day's edges a partner is looked for. */
const EDGE_MS = 10 * 60_000;
/** For the whole of one account's listing, every page included. */
const LIST_DEADLINE_MS = 120_000;
/** The providers whose list APIs are compared; the Sandbox moves no money. */
const RECONCILED: PaymentProviderName[] = ['STRIPE', 'BRAINTREE'];

export interface ReconcileDeps {
  db: Database;
  providers: PaymentProviders;
  log: Logger;
}

/** One provider account to reconcile: the platform's, or an organization's own. */
interface Account {
  provider: PaymentProviderName;
  /** PLATFORM, or the organization's id. */
  label: string;
  providerAccountId: string | null;
  /** Built when reconciled: an organization's credentials that do not open are that report's error. */
  adapter: () => PaymentProviderAdapter;
}

/** A payment or refund of billing's, as compared. */
interface LocalRecord {
  kind: ProviderTransaction['kind'];
  providerId: string;
  paymentId: string;
  refundId: string | null;
  amount: Money;
  status: string;
  createdAt: Date;
}

/** `YYYY-MM-DD`, a real calendar day not after today (UTC) → its bounds; otherwise why not. */
export function utcDay(date: string, now = new Date()): { from: Date; to: Date } | string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const from = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!from || from.toISOString().slice(0, 10) !== date)
    return 'date: must be a calendar day written YYYY-MM-DD, e.g. 2026-03-31';
  if (from.getTime() > now.getTime()) return 'date: must not be in the future';
  return { from, to: new Date(from.getTime() + DAY_MS) };
}

/** The day before today, UTC: the CLI's default. */
export const yesterdayUtc = (now = new Date()) => new Date(now.getTime() - DAY_MS).toISOString().slice(0, 10);

/** `reconciliation(date:)`: platform ADMINs only; a bad date is BAD_USER_INPUT. */
export async function reconciliation(
  ctx: Pick<Context, 'viewer' | 'db' | 'providers' | 'log'>,
  { date }: { date: string },
): Promise<ReconciliationReport[]> {
  requireAdmin(ctx.viewer);
  const day = utcDay(date);
  if (typeof day === 'string') throw new DomainError('BAD_USER_INPUT', day);
  return reconcile(ctx, date);
}

/**
 * One report per account: the platform's own STRIPE and BRAINTREE accounts that are configured,
 * then each organization's own account that was live on the day (removed later or not at all).
 * An account whose provider cannot be asked gets its `error` and nothing compared; the others
 * still run.
 */
export async function reconcile(deps: ReconcileDeps, date: string): Promise<ReconciliationReport[]> {
  const day = utcDay(date);
  if (typeof day === 'string') throw new Error(day);
  const platform = RECONCILED.flatMap((provider): Account[] => {
    const adapter = deps.providers.get(provider);
    return adapter ? [{ provider, label: 'PLATFORM', providerAccountId: null, adapter: () => adapter }] : [];
  });
  const organizations = (await providerAccountsLiveDuring(deps.db, day))
    .filter((row) => RECONCILED.includes(row.provider))
    .map(
      (row): Account => ({
        provider: row.provider,
        label: row.organizationId,
        providerAccountId: row.id,
        adapter: () => deps.providers.forAccount(row),
      }),
    );
  return Promise.all(
    [...platform, ...organizations].map((account) => reconcileAccount(deps, account, date, day)),
  );
}

async function reconcileAccount(
  deps: ReconcileDeps,
  account: Account,
  date: string,
  day: { from: Date; to: Date },
): Promise<ReconciliationReport> {
  const report = (fields: Partial<ReconciliationReport>): ReconciliationReport => ({
    date,
    provider: account.provider,
    account: account.label,
    providerTransactions: 0,
    localRecords: 0,
    matched: 0,
    mismatches: [],
    error: null,
    ...fields,
  });
  const wide = { from: new Date(day.from.getTime() - EDGE_MS), to: new Date(day.to.getTime() + EDGE_MS) };
  let listed: ProviderTransaction[];
  try {
    listed = await account.adapter().listTransactions(wide, AbortSignal.timeout(LIST_DEADLINE_MS));
  } catch (err) {
    deps.log.warn(
      { err, provider: account.provider, account: account.label, date },
      'reconciliation: provider unreachable',
    );
    return report({ error: `${account.provider} could not be asked: ${(err as Error).message}` });
  }
  const local = await localRecords(deps.db, account, wide);
  const inDay = (at: Date) => at >= day.from && at < day.to;
  const key = (record: { kind: string; providerId: string }) => `${record.kind} ${record.providerId}`;
  const atProvider = new Map(listed.map((transaction) => [key(transaction), transaction]));
  const here = new Map(local.map((record) => [key(record), record]));

  const mismatches: ReconciliationMismatch[] = [];
  const compared = new Set<string>();
  let matched = 0;
  /** A pair found on both sides: matched, or its differences. */
  const tally = (transaction: ProviderTransaction, record: LocalRecord) => {
    const differences = compare(transaction, record);
    if (differences.length) mismatches.push(...differences);
    else matched++;
  };
  for (const transaction of listed.filter((t) => inDay(t.createdAt))) {
    const record = here.get(key(transaction));
    if (!record) {
      mismatches.push({
        kind: 'MISSING_LOCALLY',
        providerId: transaction.providerId,
        providerAmount: transaction.amount,
        providerStatus: transaction.status,
        detail: `${transaction.kind === 'CHARGE' ? 'a charge' : `a refund of ${transaction.providerPaymentId}`} billing has no record of`,
      });
      continue;
    }
    compared.add(key(record));
    tally(transaction, record);
  }
  for (const record of local.filter((r) => inDay(r.createdAt) && !compared.has(key(r)))) {
    const transaction = atProvider.get(key(record));
    if (!transaction) {
      mismatches.push({
        kind: 'MISSING_AT_PROVIDER',
        providerId: record.providerId,
        paymentId: record.paymentId,
        refundId: record.refundId,
        localAmount: record.amount,
        localStatus: record.status,
        detail: `a ${record.kind === 'CHARGE' ? 'payment' : 'refund'} ${account.provider} does not list`,
      });
      continue;
    }
    tally(transaction, record);
  }
  return report({
    providerTransactions: listed.filter((t) => inDay(t.createdAt)).length,
    localRecords: local.filter((r) => inDay(r.createdAt)).length,
    matched,
    mismatches,
  });
}

async function localRecords(db: Database, account: Account, range: { from: Date; to: Date }) {
  const [paid, refunded] = await Promise.all([
    paymentsWithProviderIds(db, account.provider, account.providerAccountId, range),
    refundsWithProviderIds(db, account.provider, account.providerAccountId, range),
  ]);
  return [
    ...paid.map(
      (row): LocalRecord => ({
        kind: 'CHARGE',
        providerId: row.providerId!,
        paymentId: row.id,
        refundId: null,
        amount: { amount: row.amount, currency: row.currency },
        status: row.status,
        createdAt: row.createdAt,
      }),
    ),
    ...refunded.map(
      (row): LocalRecord => ({
        kind: 'REFUND',
        providerId: row.providerId!,
        paymentId: row.paymentId,
        refundId: row.id,
        amount: { amount: row.amount, currency: row.currency },
        status: row.status,
        createdAt: row.createdAt,
      }),
    ),
  ];
}

/** A payment waiting for the buyer (3-D Secure) is still under way at the provider. */
const comparableStatus = (status: string) => (status === 'REQUIRES_ACTION' ? 'PENDING' : status);

function compare(transaction: ProviderTransaction, record: LocalRecord): ReconciliationMismatch[] {
  const both = {
    providerId: transaction.providerId,
    paymentId: record.paymentId,
    refundId: record.refundId,
    providerAmount: transaction.amount,
    localAmount: record.amount,
    providerStatus: transaction.status,
    localStatus: record.status,
  };
  const differences: ReconciliationMismatch[] = [];
  const { amount, currency } = transaction.amount;
  if (amount !== record.amount.amount || currency !== record.amount.currency.toUpperCase())
    differences.push({
      ...both,
      kind: 'AMOUNT_DIFFERS',
      detail: `the provider has ${amount} ${currency}, billing ${record.amount.amount} ${record.amount.currency} (minor units)`,
    });
  if (transaction.status !== comparableStatus(record.status))
    differences.push({
      ...both,
      kind: 'STATUS_DIFFERS',
      detail: `the provider says ${transaction.status}, billing ${record.status}`,
    });
  return differences;
}
