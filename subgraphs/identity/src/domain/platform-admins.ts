import { type Database, emailAddress, type PersonKeys } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { PasswordHasher } from '../adapters/password-hasher.ts';
import { insertUser, lockUser, makePlatformAdmin, setPassword, userByEmail } from '../db/accounts.ts';
import { revokeSessions } from '../db/sessions.ts';
import { newPassword } from './passwords.ts';

export const platformAdminInput = z.object({
  email: emailAddress,
  password: newPassword.optional(),
});

export type PlatformAdminOutcome = 'created' | 'claimed' | 'promoted' | 'password-set' | 'unchanged';

/**
 * Makes the account at `email` a verified platform ADMIN, creating it when missing. An existing
 * verified account keeps its password unless `setPassword` says otherwise (the CLI with
 * `--password`); an unverified one gets the given password or none. An account without a
 * password signs in after a password reset. Safe to run again, and from
 * several replicas at once (the unique email decides, the row lock serializes).
 */
export async function ensurePlatformAdmin(
  db: Database,
  { passwords, personKeys }: { passwords: PasswordHasher; personKeys: PersonKeys },
  input: z.output<typeof platformAdminInput>,
  options: { setPassword: boolean },
): Promise<{ userId: string; outcome: PlatformAdminOutcome }> {
  const passwordHash = input.password ? await passwords.hash(input.password) : null;
  return db.transaction(async (tx) => {
    const created = await insertUser(tx, personKeys, {
      id: uuidv7(),
      email: input.email,
      displayName: 'Administrator',
      passwordHash,
      emailVerifiedAt: new Date(),
      roles: ['ADMIN'],
    });
    if (created) return { userId: created.id, outcome: 'created' as const };
    const existing = (await userByEmail(tx, personKeys, input.email))!;
    const user = (await lockUser(tx, personKeys, existing.id))!;
    let outcome: PlatformAdminOutcome = 'unchanged';
    if (!user.emailVerifiedAt) {
      // Nobody proved this address: whoever registered it first must not inherit the ADMIN role.
      // Their password and sessions go; the owner of the address sets one by password reset.
      await setPassword(tx, personKeys, user.id, passwordHash);
      await revokeSessions(tx, { userId: user.id }, 'promoted to platform administrator');
    }
    if (!user.roles.includes('ADMIN') || !user.emailVerifiedAt) {
      await makePlatformAdmin(tx, user.id);
      outcome = user.emailVerifiedAt ? 'promoted' : 'claimed';
    }
    if (options.setPassword && passwordHash && user.emailVerifiedAt) {
      await setPassword(tx, personKeys, user.id, passwordHash);
      if (outcome === 'unchanged') outcome = 'password-set';
    }
    return { userId: user.id, outcome };
  });
}
