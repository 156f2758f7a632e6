import {
  type DeadLetter,
  decodeCursor,
  mutationRule,
  pageSize,
  requireAdmin,
  toConnection,
  type UserError,
} from '@bilten/platform';
import { z } from 'zod';
import type { Context } from '../context.ts';

// Platform operations on the shared dead-letter stream: what consumers in every subgraph gave up on.

const filterInput = z
  .object({ consumer: z.string().max(200).nullish(), type: z.string().max(200).nullish() })
  .nullish()
  .transform((filter) => ({ durableName: filter?.consumer ?? undefined, type: filter?.type ?? undefined }));

const sequenceNumber = z.number().int().min(1);

type Ctx = Pick<Context, 'viewer' | 'bus' | 'log'>;

export async function listDeadLetters(
  ctx: Pick<Context, 'viewer' | 'bus'>,
  args: { filter?: unknown; first?: number | null; after?: string | null },
) {
  requireAdmin(ctx.viewer);
  const size = pageSize(args.first);
  const filter = filterInput.parse(args.filter);
  const after = args.after ? decodeCursor(args.after, z.number().int().min(0)) : undefined;
  const letters = await ctx.bus.listDeadLetters({ ...filter, after, first: size + 1 });
  return toConnection(letters, size, (letter) => letter.sequence);
}

const replayInput = z
  .object({ sequences: z.array(sequenceNumber).min(1).max(100).nullish(), filter: filterInput })
  .refine((input) => input.sequences || input.filter.durableName || input.filter.type, {
    message: 'give sequences or a filter with a consumer or a type',
    path: ['sequences'],
  });

export const replayDeadLetters = mutationRule(
  {
    input: replayInput,
    caller: requireAdmin,
    invalid: (errors): { replayed: number[]; errors: UserError[] } => ({ replayed: [], errors }),
  },
  async (ctx: Ctx, input, admin) => {
    const sequences =
      input.sequences ??
      (await ctx.bus.listDeadLetters({ ...input.filter, first: 500 })).map(
        (letter: DeadLetter) => letter.sequence,
      );
    const replayed: number[] = [];
    const errors: UserError[] = [];
    for (const [index, seq] of sequences.entries()) {
      if (await ctx.bus.replayDeadLetter(seq)) replayed.push(seq);
      else
        errors.push({
          code: 'NOT_FOUND',
          message: `no dead letter ${seq}`,
          field: ['input', 'sequences', String(index)],
        });
    }
    ctx.log.info({ admin: admin.userId, replayed }, 'dead letters replayed');
    return { replayed, errors };
  },
);

export const discardDeadLetter = mutationRule(
  {
    input: z.object({ sequence: sequenceNumber }),
    caller: requireAdmin,
    invalid: (errors) => ({ discarded: null, errors }),
  },
  async (ctx: Ctx, { sequence }, admin): Promise<{ discarded: number | null; errors: UserError[] }> => {
    if (!(await ctx.bus.discardDeadLetter(sequence))) {
      return {
        discarded: null,
        errors: [{ code: 'NOT_FOUND', message: `no dead letter ${sequence}`, field: ['input', 'sequence'] }],
      };
    }
    ctx.log.info({ admin: admin.userId, sequence }, 'dead letter discarded');
    return { discarded: sequence, errors: [] };
  },
);
