import {
  type DeadLetter,
  decodeCursor,
  type EventBus,
  type Logger,
  pageSize,
  requireAdmin,
  toConnection,
  type UserError,
  userErrorsFrom,
  type Viewer,
} from '@bilten/platform';
import { z } from 'zod';

// Platform operations on the shared dead-letter stream: what consumers in every subgraph gave up on.

const filterInput = z
  .object({ consumer: z.string().max(200).nullish(), type: z.string().max(200).nullish() })
  .nullish()
  .transform((filter) => ({ durableName: filter?.consumer ?? undefined, type: filter?.type ?? undefined }));

const sequence = z.number().int().min(1);

export async function listDeadLetters(
  viewer: Viewer,
  bus: EventBus,
  args: { filter?: unknown; first?: number | null; after?: string | null },
) {
  requireAdmin(viewer);
  const size = pageSize(args.first);
  const filter = filterInput.parse(args.filter);
  const after = args.after ? decodeCursor(args.after, z.number().int().min(0)) : undefined;
  const letters = await bus.listDeadLetters({ ...filter, after, first: size + 1 });
  return toConnection(letters, size, (letter) => letter.sequence);
}

const replayInput = z
  .object({ sequences: z.array(sequence).min(1).max(100).nullish(), filter: filterInput })
  .refine((input) => input.sequences || input.filter.durableName || input.filter.type, {
    message: 'give sequences or a filter with a consumer or a type',
    path: ['sequences'],
  });

export async function replayDeadLetters(viewer: Viewer, bus: EventBus, log: Logger, input: unknown) {
  const admin = requireAdmin(viewer);
  const parsed = replayInput.safeParse(input);
  if (!parsed.success) return { replayed: [], errors: userErrorsFrom(parsed.error) };
  const sequences =
    parsed.data.sequences ??
    (await bus.listDeadLetters({ ...parsed.data.filter, first: 500 })).map(
      (letter: DeadLetter) => letter.sequence,
    );
  const replayed: number[] = [];
  const errors: UserError[] = [];
  for (const [index, seq] of sequences.entries()) {
    if (await bus.replayDeadLetter(seq)) replayed.push(seq);
    else
      errors.push({
        code: 'NOT_FOUND',
        message: `no dead letter ${seq}`,
        field: ['input', 'sequences', String(index)],
      });
  }
  log.info({ admin: admin.userId, replayed }, 'dead letters replayed');
  return { replayed, errors };
}

export async function discardDeadLetter(viewer: Viewer, bus: EventBus, log: Logger, input: unknown) {
  const admin = requireAdmin(viewer);
  const parsed = z.object({ sequence }).safeParse(input);
  if (!parsed.success) return { discarded: null, errors: userErrorsFrom(parsed.error) };
  if (!(await bus.discardDeadLetter(parsed.data.sequence))) {
    return {
      discarded: null,
      errors: [
        {
          code: 'NOT_FOUND' as const,
          message: `no dead letter ${parsed.data.sequence}`,
          field: ['input', 'sequence'],
        },
      ],
    };
  }
  log.info({ admin: admin.userId, sequence: parsed.data.sequence }, 'dead letter discarded');
  return { discarded: parsed.data.sequence, errors: [] };
}
