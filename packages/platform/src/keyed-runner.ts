/**
 * Runs tasks concurrently up to `limit`, but tasks with the same key one after another in the
 * order they were given: per-aggregate order with parallelism across aggregates.
 */
export function createKeyedRunner(limit: number) {
  const tails = new Map<string, Promise<void>>();
  const waiting: Array<() => void> = [];
  let active = 0;

  return {
    /** Resolves once the task has a slot (not when it is done), so callers can pace intake. */
    async run(key: string, task: () => Promise<void>): Promise<void> {
      while (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      const current = (tails.get(key) ?? Promise.resolve())
        .then(task)
        .catch(() => {})
        .finally(() => {
          active--;
          waiting.shift()?.();
          if (tails.get(key) === current) tails.delete(key);
        });
      tails.set(key, current);
    },
    /** Waits for every task given so far. */
    async idle(): Promise<void> {
      while (tails.size) await Promise.all(tails.values());
    },
  };
}
