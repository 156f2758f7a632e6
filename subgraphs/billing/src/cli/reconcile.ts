/**
 * `npm run billing:reconcile -- [--date YYYY-MM-DD]`: compares a UTC day (yesterday by default) of
 * each provider account's transactions (the providers' list APIs) with billing's payments and
 * refunds in the database at DATABASE_URL, and prints a table of mismatches per account. Reads the
 * provider credentials (and DATA_ENCRYPTION_KEYS, for organizations' own accounts) as the service
 * does. Exits 0 when every account is clean, 1 when something differs or a provider could not be
 * asked, 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { connectDatabase, createLogger, parseEnv } from '@bilten/platform';
import { billingEnv } from '../config.ts';
import { reconcile, utcDay, yesterdayUtc } from '../domain/reconciliation.ts';
import type { Money, ReconciliationReport } from '../generated/graphql.ts';
import { billingProviders } from '../server.ts';

const usage = 'usage: DATABASE_URL=postgres://… npm run billing:reconcile -- [--date YYYY-MM-DD]';
let date: string;
try {
  const { values } = parseArgs({ options: { date: { type: 'string', default: yesterdayUtc() } } });
  date = values.date;
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const day = utcDay(date);
const databaseUrl = process.env.DATABASE_URL;
if (typeof day === 'string' || !databaseUrl) {
  console.error(`${typeof day === 'string' ? day : 'DATABASE_URL is not set'}\n${usage}`);
  process.exit(2);
}
const config = parseEnv(billingEnv, process.env);

const money = (value: Money | null | undefined) => (value ? `${value.amount} ${value.currency}` : '-');

/** Columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function print(report: ReconciliationReport): void {
  const heading = `${report.provider} ${report.account} ${report.date}`;
  if (report.error) return void console.log(`${heading}: ERROR ${report.error}\n`);
  console.log(
    `${heading}: ${report.providerTransactions} at the provider, ${report.localRecords} in billing, ${report.matched} matched, ${report.mismatches.length} mismatches`,
  );
  if (report.mismatches.length)
    console.log(
      table([
        ['KIND', 'PROVIDER ID', 'PAYMENT', 'REFUND', 'PROVIDER', 'BILLING', 'DETAIL'],
        ...report.mismatches.map((m) => [
          m.kind,
          m.providerId ?? '-',
          m.paymentId ?? '-',
          m.refundId ?? '-',
          `${money(m.providerAmount)} ${m.providerStatus ?? ''}`.trim(),
          `${money(m.localAmount)} ${m.localStatus ?? ''}`.trim(),
          m.detail,
        ]),
      ]),
    );
  console.log('');
}

const log = createLogger({ service: 'billing-reconcile', level: 'warn', destination: process.stderr });
const database = connectDatabase({
  url: databaseUrl,
  poolSize: 2,
  applicationName: 'bilten-billing-reconcile',
});
try {
  const reports = await reconcile(
    { db: database.db, providers: billingProviders(config, database.db), log },
    date,
  );
  if (!reports.length)
    console.log(`no STRIPE or BRAINTREE account is configured: nothing to reconcile for ${date}`);
  reports.forEach(print);
  process.exitCode = reports.some((report) => report.error || report.mismatches.length) ? 1 : 0;
} finally {
  await database.close();
}
