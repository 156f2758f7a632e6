/**
 * A closed-loop load: `concurrency` workers each send one request after another until stopped,
 * every answer counted. `send` resolves to undefined for a good answer, or says what was wrong.
 */
export interface LoadResult {
  served: number;
  failed: number;
  /** The first few failures, as `send` described them. */
  failures: string[];
  p50Ms: number;
  p99Ms: number;
}

export interface RunningLoad {
  /** Answers so far (good and failed). */
  readonly count: number;
  /** Waits for the requests in flight, then reports. */
  stop(): Promise<LoadResult>;
}

export function startLoad(options: {
  concurrency: number;
  send: (worker: number, sequence: number) => Promise<string | undefined>;
}): RunningLoad {
  const latencies: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let running = true;
  const worker = async (index: number) => {
    for (let sequence = 0; running; sequence++) {
      const started = performance.now();
      let failure: string | undefined;
      try {
        failure = await options.send(index, sequence);
      } catch (err) {
        failure = (err as Error).message;
      }
      latencies.push(performance.now() - started);
      if (failure !== undefined) {
        failed++;
        if (failures.length < 10) failures.push(failure);
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, (_, index) => worker(index));
  return {
    get count() {
      return latencies.length;
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      const sorted = [...latencies].sort((a, b) => a - b);
      const at = (quantile: number) =>
        sorted.length
          ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * quantile))]! * 10) / 10
          : 0;
      return { served: latencies.length, failed, failures, p50Ms: at(0.5), p99Ms: at(0.99) };
    },
  };
}
