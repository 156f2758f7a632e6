import { type DestinationStream, type Logger, pino } from 'pino';
import { currentRequest } from './request-context.ts';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
}

/** JSON lines; the request's correlation and trace ids are added to every line logged while serving it. */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const request = currentRequest();
        if (!request) return {};
        return { requestId: request.requestId, traceId: request.traceparent.split('-')[1] };
      },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password'], remove: true },
    },
    destination,
  );
}
