/**
 * Runs `pass` every `intervalMs` until stopped, for a subgraph's `background` work (a periodic
 * sweep). The next pass is scheduled when one ends, so passes never overlap; a pass that fails
 * goes to `onFailure` and the next runs as usual. `stop` waits for a pass under way.
 */
export function runPeriodically(
  intervalMs: number,
  pass: () => Promise<void>,
  onFailure: (error: unknown) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout;
  const schedule = () => {
    timer = setTimeout(() => {
      running = pass()
        .catch(onFailure)
        .finally(() => {
          if (!stopped) schedule();
        });
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
