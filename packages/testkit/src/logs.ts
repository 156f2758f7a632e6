import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@bilten/platform';

export interface CapturedLogs {
  log: Logger;
  lines: Array<Record<string, unknown>>;
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function captureLogs(service = 'test'): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ service, level: 'info', destination }), lines };
}
