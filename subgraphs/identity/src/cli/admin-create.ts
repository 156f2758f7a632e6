/**
 * `npm run admin:create -- --email ops@example.com [--password …]`: creates or promotes the
 * account to a verified platform ADMIN in the database at DATABASE_URL. Without --password a
 * new account has none (set it with "forgot password"); an existing verified one keeps its own,
 * an unverified one loses it (nobody proved the address).
 */
import { parseArgs } from 'node:util';
import { applyMigrations, connectDatabase, personKeysFromEnv } from '@bilten/platform';
import { createPasswordHasher } from '../adapters/password-hasher.ts';
import { personKeys } from '../db/schema.ts';
import { sealPlaintextUsers } from '../db/users.ts';
import { ensurePlatformAdmin, platformAdminInput } from '../domain/platform-admins.ts';
import { identitySubgraph } from '../server.ts';

const { values } = parseArgs({ options: { email: { type: 'string' }, password: { type: 'string' } } });
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl || !values.email) {
  console.error(
    'usage: DATABASE_URL=postgres://… npm run admin:create -- --email <address> [--password <password>]',
  );
  process.exit(2);
}
const parsed = platformAdminInput.safeParse(values);
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`--${String(issue.path[0])}: ${issue.message}`);
  process.exit(2);
}

await applyMigrations(databaseUrl, 'identity', identitySubgraph.migrations);
const database = connectDatabase({ url: databaseUrl, poolSize: 1, applicationName: 'bilten-admin-create' });
// The service's keys (PERSON_KEK_KEYS, BLIND_INDEX_KEY): the account must open and be found there.
const keys = personKeysFromEnv(database.db, personKeys, {
  ...process.env,
  NODE_ENV: process.env.NODE_ENV ?? 'development',
});
try {
  // Rows from before per-person keys, sealed as the service would at its start.
  await sealPlaintextUsers(database.db, keys);
  const { userId, outcome } = await ensurePlatformAdmin(
    database.db,
    { passwords: await createPasswordHasher(), personKeys: keys },
    parsed.data,
    {
      setPassword: true,
    },
  );
  const { email, password } = parsed.data;
  const said = {
    created: `created platform administrator ${email} (${userId})${password ? '' : ' without a password: set one with "forgot password"'}`,
    claimed: `made ${email} (${userId}) a verified platform administrator; nobody had proven that address, so its old password and sessions are gone${password ? ' and the given password is set' : ': set a password with "forgot password"'}`,
    promoted: `made ${email} (${userId}) a verified platform administrator${password ? ' and set its password' : ''}`,
    'password-set': `${email} (${userId}) was a platform administrator already; its password is set`,
    unchanged: `${email} (${userId}) is a platform administrator already; nothing changed`,
  }[outcome];
  console.log(said);
} finally {
  await database.close();
}
