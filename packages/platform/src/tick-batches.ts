/**
 * Gathers what one request (or one tick of a worker) reports in the same tick, like a dataloader's
 * loads, and writes it once: a page of results, ten users' notifications, every forbidden field of
 * one operation become one write. Used by the access audit and by security events.
 */
export interface TickBatches<T> {
  /**
   * Adds `items` to `key`'s batch (a request context); the first call of a tick schedules
   * `write` with everything gathered by then. Answers when that write is done.
   */
  add(key: object, items: T[], write: (items: T[]) => Promise<void>): Promise<void>;
}

export function tickBatches<T>(): TickBatches<T> {
  const pending = new WeakMap<object, { items: T[]; written: Promise<void> }>();
  return {
    add(key, items, write) {
      const batch = pending.get(key);
      if (batch) {
        batch.items.push(...items);
        return batch.written;
      }
      const started = { items: [...items], written: Promise.resolve() };
      pending.set(key, started);
      started.written = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        pending.delete(key);
        return write(started.items);
      });
      return started.written;
    },
  };
}
