/**
 * `npm run keys:rotate -- [--service billing] [--column schema.table.column[:key]]… [--batch-size 500]`:
 * re-encrypts, under the first key of DATA_ENCRYPTION_KEYS, every value of the encrypted columns in
 * the database at DATABASE_URL that another key encrypted. Without `--column`, every column a
 * subgraph lists in its exported `encryptedColumns` (only `--service`'s: each service has its own
 * key ring, so rotate one service at a time with its keys). Run it after putting a new key first
 * (keep the old ones until it is done); then the old key may go. Safe to run again; exits 1 when a
 * value did not decrypt.
 */
import { parseArgs } from 'node:util';
import {
  connectDatabase,
  dataEncryptionEnv,
  type EncryptedColumn,
  keyRingFromEnv,
  parseEnv,
  platformEnv,
  rotateEncryptedColumns,
} from '@bilten/platform';

/** Each subgraph's module, loaded only when needed (it takes seconds). */
const SUBGRAPHS = {
  identity: () => import('@bilten/identity'),
  catalog: () => import('@bilten/catalog'),
  orders: () => import('@bilten/orders'),
  billing: () => import('@bilten/billing'),
  messaging: () => import('@bilten/messaging'),
  branding: () => import('@bilten/branding'),
};

/** The `encryptedColumns` of one subgraph, or of every subgraph that has some. */
async function registered(service: keyof typeof SUBGRAPHS | undefined): Promise<EncryptedColumn[]> {
  const loads = service ? [SUBGRAPHS[service]] : Object.values(SUBGRAPHS);
  const subgraphs = await Promise.all(loads.map((load) => load()));
  return subgraphs.flatMap((subgraph) =>
    'encryptedColumns' in subgraph ? (subgraph.encryptedColumns as EncryptedColumn[]) : [],
  );
}

const NAME = '[a-z_][a-z0-9_]*';
const COLUMN = new RegExp(`^(${NAME})\\.(${NAME})\\.(${NAME})(?::(${NAME}))?$`);

const usage =
  'usage: DATABASE_URL=postgres://… DATA_ENCRYPTION_KEYS=… npm run keys:rotate -- [--service billing|messaging|branding] [--column schema.table.column[:key]]… [--batch-size 500]';
const { values } = parseArgs({
  options: {
    service: { type: 'string' },
    column: { type: 'string', multiple: true, default: [] },
    'batch-size': { type: 'string', default: '500' },
  },
});
const given = values.column.map((text): EncryptedColumn | undefined => {
  const match = COLUMN.exec(text);
  return match
    ? { schema: match[1]!, table: match[2]!, column: match[3]!, key: match[4] ?? 'id' }
    : undefined;
});
const batchSize = Number(values['batch-size']);
const databaseUrl = process.env.DATABASE_URL;
const service = values.service as keyof typeof SUBGRAPHS | undefined;
if (
  !databaseUrl ||
  (service && !Object.hasOwn(SUBGRAPHS, service)) ||
  given.some((column) => !column) ||
  !Number.isInteger(batchSize) ||
  batchSize < 1
) {
  console.error(usage);
  process.exit(2);
}
const env = parseEnv(platformEnv.extend(dataEncryptionEnv), process.env);
const ring = keyRingFromEnv(env);
const columns = given.length ? (given as EncryptedColumn[]) : await registered(service);

const database = connectDatabase({ url: databaseUrl, poolSize: 1, applicationName: 'bilten-key-rotation' });
try {
  const results = await rotateEncryptedColumns(database.sql, ring, columns, { batchSize });
  for (const result of results) {
    if (result.missing) console.log(`${result.column}: no such table here, skipped`);
    else
      console.log(`${result.column}: ${result.rotated} value(s) re-encrypted under key "${ring.currentKid}"`);
    if (result.failed.length) {
      console.error(
        `${result.column}: ${result.failed.length} value(s) did not decrypt, rows ${result.failed.join(', ')}`,
      );
      process.exitCode = 1;
    }
  }
  if (!columns.length) console.log('no encrypted columns are registered');
} finally {
  await database.close();
}
