import { setTimeout as sleep } from 'node:timers/promises';
import { TransientProviderError } from '../adapters/provider.ts';

export type Attempted<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: TransientProviderError; attempts: number };

/**
 * Calls `call` until it answers or `deadlineMs` is spent, retrying TransientProviderError with
 * exponential backoff (100 ms × 2^n, half of it jitter). Each call carries the same idempotency key
 * (the caller's), so a retry of a call that did act is answered, not repeated. Other errors throw.
 */
export async function withRetries<T>(
  deadlineMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<Attempted<T>> {
  const signal = AbortSignal.timeout(deadlineMs);
  const deadline = Date.now() + deadlineMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return { ok: true, value: await call(signal), attempts };
    } catch (err) {
      if (!(err instanceof TransientProviderError)) throw err;
      const backoff = 100 * 2 ** (attempts - 1);
      const delay = backoff / 2 + Math.random() * (backoff / 2);
      if (signal.aborted || Date.now() + delay >= deadline) return { ok: false, error: err, attempts };
      await sleep(delay);
    }
  }
}
