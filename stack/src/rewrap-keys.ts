/**
 * `npm run keys:rewrap -- [--schema orders]… [--batch-size 500]`: re-wraps, under the first KEK of
 * PERSON_KEK_KEYS, every live per-person data key of every `<schema>.person_keys` table in the
 * database at DATABASE_URL (or of the `--schema`s named). Only the keys tables change, never the
 * data (docs/person-keys.md). Run it after putting a new KEK first; then the old KEK may go once
 * the backup retention has passed. Safe to run again; exits 1 when a key did not unwrap.
 */
import { parseArgs } from 'node:util';
import {
  connectDatabase,
  createPersonVault,
  keyEncryptionKeysFromEnv,
  parseEnv,
  personKeysEnv,
  personKeyTable,
  platformEnv,
} from '@bilten/platform';
import { pgSchema } from 'drizzle-orm/pg-core';

const usage =
  'usage: DATABASE_URL=postgres://… PERSON_KEK_KEYS=… npm run keys:rewrap -- [--schema <name>]… [--batch-size 500]';
const { values } = parseArgs({
  options: {
    schema: { type: 'string', multiple: true, default: [] },
    'batch-size': { type: 'string', default: '500' },
  },
});
const batchSize = Number(values['batch-size']);
const databaseUrl = process.env.DATABASE_URL;
if (
  !databaseUrl ||
  values.schema.some((name) => !/^[a-z_][a-z0-9_]*$/.test(name)) ||
  !Number.isInteger(batchSize) ||
  batchSize < 1
) {
  console.error(usage);
  process.exit(2);
}
const env = parseEnv(platformEnv.extend(personKeysEnv), process.env);
const keks = keyEncryptionKeysFromEnv(env);

const database = connectDatabase({ url: databaseUrl, poolSize: 1, applicationName: 'bilten-key-rewrap' });
try {
  const found = await database.sql<Array<{ schema: string }>>`
    select table_schema as schema from information_schema.tables
    where table_name = 'person_keys' order by table_schema`;
  const schemas = values.schema.length ? values.schema : found.map((row) => row.schema);
  for (const schema of schemas) {
    if (!found.some((row) => row.schema === schema)) {
      console.log(`${schema}.person_keys: no such table here, skipped`);
      continue;
    }
    const vault = createPersonVault({ db: database.db, table: personKeyTable(pgSchema(schema)), keks });
    const { rewrapped, failed } = await vault.rewrap(database.db, { batchSize });
    console.log(`${schema}.person_keys: ${rewrapped} data key(s) re-wrapped under KEK "${keks.currentId}"`);
    if (failed.length) {
      console.error(
        `${schema}.person_keys: ${failed.length} key(s) did not unwrap and were left as they were`,
      );
      process.exitCode = 1;
    }
  }
  if (!schemas.length) console.log('no person_keys tables here');
} finally {
  await database.close();
}
