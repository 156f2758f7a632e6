/**
 * `npm run tickets:rotate-key -- [--activate-in <duration>]`: adds a new Ed25519 ticket signing
 * key to the orders database at DATABASE_URL, signing new tickets from now or after the duration
 * (`90s`, `30m`, `12h`, `7d`). Older keys stay: the tickets they signed keep verifying, online and
 * in every scanner's manifest. A delay lets offline scanners download the new public key
 * (`checkInManifest` lists keys before they sign) before the first ticket carries it. Reads
 * TICKET_KEY_ENCRYPTION_SECRET (and NODE_ENV) as the service does.
 */
import { parseArgs } from 'node:util';
import { applyMigrations, connectDatabase, parseEnv } from '@bilten/platform';
import { createTicketKeys } from '../adapters/ticket-keys.ts';
import { ordersEnv } from '../config.ts';
import { ordersSubgraph } from '../server.ts';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `0`, or a whole number of s, m, h or d, up to a year: milliseconds; else undefined. */
function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim()) ?? (text.trim() === '0' ? ['0', '0', 's'] : null);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS[match[2]!]!;
  return ms <= 366 * UNITS.d! ? ms : undefined;
}

const usage =
  'usage: DATABASE_URL=postgres://… npm run tickets:rotate-key -- [--activate-in <0|90s|30m|12h|7d>]';
const { values } = parseArgs({ options: { 'activate-in': { type: 'string', default: '0' } } });
const databaseUrl = process.env.DATABASE_URL;
const delayMs = parseDuration(values['activate-in']);
if (!databaseUrl || delayMs === undefined) {
  console.error(usage);
  process.exit(2);
}
// The service's own variables, so the key is sealed under the secret the service unseals with.
const config = parseEnv(ordersEnv, process.env);

await applyMigrations(databaseUrl, 'orders', ordersSubgraph.migrations);
const database = connectDatabase({
  url: databaseUrl,
  poolSize: 1,
  applicationName: 'bilten-ticket-key-rotation',
});
try {
  const activatesAt = new Date(Date.now() + delayMs);
  const kid = await createTicketKeys(config).addKey(database.db, activatesAt);
  console.log(`added ticket signing key ${kid}; it signs new tickets from ${activatesAt.toISOString()}`);
} finally {
  await database.close();
}
