import type { Database, Transaction } from '@bilten/platform';
import { hitThrottles } from '../db/throttles.ts';

export interface ThrottleRule {
  /** Hits allowed per window… */
  limit: number;
  windowMs: number;
}

/** A plain rate limit: `false` once `rule.limit` hits are used up in the current window. */
export async function allow(db: Database | Transaction, key: string, rule: ThrottleRule): Promise<boolean> {
  const [attempt] = await hitThrottles(db, [key], rule.windowMs);
  return attempt!.hits <= rule.limit;
}
