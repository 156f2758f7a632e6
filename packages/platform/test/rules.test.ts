import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ANONYMOUS, requireUser, type Viewer } from '../src/auth.ts';
import { DomainError, type UserError } from '../src/errors.ts';
import { mutationRule } from '../src/rules.ts';

const user: Viewer = {
  kind: 'user',
  userId: 'u1',
  roles: [],
  organizations: {},
  tokenId: 't1',
  emailVerified: true,
};

interface Renamed {
  name: string | null;
  by: string | null;
  errors: UserError[];
}

const renameThing = mutationRule(
  {
    input: z.object({ name: z.string().min(2, 'too short') }),
    caller: requireUser,
    invalid: (errors): Renamed => ({ name: null, by: null, errors }),
  },
  async (_ctx: { viewer: Viewer }, { name }, caller): Promise<Renamed> => ({
    name,
    by: caller.userId,
    errors: [],
  }),
);

describe('mutationRule', () => {
  it('checks the caller before reading the input, so outsiders learn nothing from validation', async () => {
    const refused = renameThing({ viewer: ANONYMOUS }, { name: 'x' });
    await expect(refused).rejects.toBeInstanceOf(DomainError);
    await expect(refused).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('answers invalid input with user errors on the field, and runs nothing', async () => {
    expect(await renameThing({ viewer: user }, { name: 'x' })).toEqual({
      name: null,
      by: null,
      errors: [{ code: 'INVALID_INPUT', message: 'too short', field: ['input', 'name'] }],
    });
  });

  it('answers text no field may hold (NUL, other control characters) with user errors, whatever its schema', async () => {
    const note = mutationRule(
      {
        input: z.object({ name: z.string(), notes: z.array(z.string()) }),
        invalid: (errors) => ({ errors }),
      },
      async () => ({ errors: [] as UserError[] }),
    );
    expect(await note({ viewer: user }, { name: 'Ana\u0000', notes: ['ok\n\tfine', 'bell\u0007'] })).toEqual({
      errors: [
        {
          code: 'INVALID_INPUT',
          message: 'must not contain control characters (tab and line breaks are fine)',
          field: ['input', 'name'],
        },
        {
          code: 'INVALID_INPUT',
          message: 'must not contain control characters (tab and line breaks are fine)',
          field: ['input', 'notes', '1'],
        },
      ],
    });
  });

  it('runs the rule on the parsed input with the caller the check answered', async () => {
    expect(await renameThing({ viewer: user }, { name: 'Ana' })).toEqual({
      name: 'Ana',
      by: 'u1',
      errors: [],
    });
  });
});
