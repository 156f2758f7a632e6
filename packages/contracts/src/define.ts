/**
 * The published language between services: each file here holds one producer's domain events
 * (subject, version, payload schema), imported by that producer and by every consumer, so that a
 * mismatch fails typecheck or a test instead of filling the dead-letter stream. No logic.
 */
import type { z } from 'zod';

/** A published event: its subject, schema version, aggregate and the zod schema of its payload. */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  version: number;
  aggregateType: string;
  payload: S;
}

export function defineEvent<S extends z.ZodType>(definition: {
  type: string;
  version?: number;
  aggregateType: string;
  payload: S;
}): EventDefinition<S> {
  return { version: 1, ...definition };
}
