import type { Database } from '@bilten/platform';
import { and, eq, gte, isNotNull, isNull, lt, or, type SQL } from 'drizzle-orm';
import { type PaymentProviderName, payments, providerAccounts, refunds } from './schema.ts';

/** Payments through this provider and account: the platform's (null) or an organization's own (provider_accounts.id). */
const throughAccount = (provider: PaymentProviderName, providerAccountId: string | null): SQL | undefined =>
  and(
    eq(payments.provider, provider),
    providerAccountId === null
      ? isNull(payments.providerAccountId)
      : eq(payments.providerAccountId, providerAccountId),
  );

/** Payments through this provider account that the provider has an id for, created in [from, to). */
export const paymentsWithProviderIds = (
  db: Database,
  provider: PaymentProviderName,
  providerAccountId: string | null,
  { from, to }: { from: Date; to: Date },
) =>
  db
    .select({
      id: payments.id,
      providerId: payments.providerPaymentId,
      amount: payments.amount,
      currency: payments.currency,
      status: payments.status,
      createdAt: payments.createdAt,
    })
    .from(payments)
    .where(
      and(
        throughAccount(provider, providerAccountId),
        isNotNull(payments.providerPaymentId),
        gte(payments.createdAt, from),
        lt(payments.createdAt, to),
      ),
    );

/** Refunds of those payments that the provider has an id for, created in [from, to). */
export const refundsWithProviderIds = (
  db: Database,
  provider: PaymentProviderName,
  providerAccountId: string | null,
  { from, to }: { from: Date; to: Date },
) =>
  db
    .select({
      id: refunds.id,
      paymentId: refunds.paymentId,
      providerId: refunds.providerRefundId,
      amount: refunds.amount,
      currency: refunds.currency,
      status: refunds.status,
      createdAt: refunds.createdAt,
    })
    .from(refunds)
    .innerJoin(payments, eq(payments.id, refunds.paymentId))
    .where(
      and(
        throughAccount(provider, providerAccountId),
        isNotNull(refunds.providerRefundId),
        gte(refunds.createdAt, from),
        lt(refunds.createdAt, to),
      ),
    );

/** Organizations' own accounts that were live at some point of [from, to): added before its end, not removed before its start. */
export const providerAccountsLiveDuring = (db: Database, { from, to }: { from: Date; to: Date }) =>
  db
    .select()
    .from(providerAccounts)
    .where(
      and(
        lt(providerAccounts.createdAt, to),
        or(isNull(providerAccounts.removedAt), gte(providerAccounts.removedAt, from)),
      ),
    );
