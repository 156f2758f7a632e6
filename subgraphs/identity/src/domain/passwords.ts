import { readFileSync } from 'node:fs';
import { z } from 'zod';

const PASSWORD_MIN_LENGTH = 8;
const PASSWORD_MAX_LENGTH = 128;

function loadCommonPasswords(): Set<string> {
  const text = readFileSync(new URL('../../common-passwords.txt', import.meta.url), 'utf8');
  return new Set(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.toLowerCase()),
  );
}

const COMMON_PASSWORDS = loadCommonPasswords();

/**
 * NIST 800-63B: 8–128 characters counted as code points (after NFKC, as it is hashed), any
 * characters allowed, no composition rules, but not a commonly used password. The length is
 * checked before anything else, so a huge input never reaches the hasher.
 */
export const newPassword = z
  .string()
  .max(PASSWORD_MAX_LENGTH * 4, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
  .transform((value) => value.normalize('NFKC'))
  .superRefine((value, ctx) => {
    const length = [...value].length;
    if (length < PASSWORD_MIN_LENGTH)
      ctx.addIssue({ code: 'custom', message: `must be at least ${PASSWORD_MIN_LENGTH} characters` });
    else if (length > PASSWORD_MAX_LENGTH)
      ctx.addIssue({ code: 'custom', message: `must be at most ${PASSWORD_MAX_LENGTH} characters` });
    else if (COMMON_PASSWORDS.has(value.toLowerCase()))
      ctx.addIssue({ code: 'custom', message: 'is one of the most common passwords; choose another' });
  });

/** A password given to sign in: bounded so a huge one costs nothing, normalized as it was hashed. */
export const givenPassword = z
  .string()
  .min(1, 'must not be empty')
  .max(PASSWORD_MAX_LENGTH * 4, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
  .transform((value) => value.normalize('NFKC'));
