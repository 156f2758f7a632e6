import { type Database, displayText, emailAddress, type UserError, userErrorsFrom } from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { insertUser } from '../db/queries.ts';
import type { UserRow } from '../db/schema.ts';

const createUserInput = z.object({ email: emailAddress, displayName: displayText(100) });

export async function createUser(
  db: Database,
  input: unknown,
): Promise<{ user: UserRow | null; errors: UserError[] }> {
  const parsed = createUserInput.safeParse(input);
  if (!parsed.success) return { user: null, errors: userErrorsFrom(parsed.error) };
  const user = await insertUser(db, { id: uuidv7(), ...parsed.data });
  if (!user) {
    return {
      user: null,
      errors: [
        { code: 'ALREADY_EXISTS', message: 'an account with this email exists', field: ['input', 'email'] },
      ],
    };
  }
  return { user, errors: [] };
}
