import { type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger, pino } from 'pino';
import { currentRequest } from './request-context.ts';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
}

/** JSON lines; the request's correlation and trace ids are added to every line logged while serving it. */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  const unnamed = pino(
    {
      level,
      base: null,
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
  return named(unnamed, service);
}

/**
 * `service` names who wrote a line, once. pino writes every binding of every ancestor, so a
 * service started in a process of another name (`npm start`'s bilten, a test's logger) would log
 * `"service":"bilten",…,"service":"catalog"`. Here a child's `service` replaces its parent's: each
 * logger is `unnamed` (every binding but the service) + its own bindings + its service, last.
 */
function named(
  unnamed: Logger,
  service: string,
  bindings: Bindings = {},
  options?: ChildLoggerOptions,
): Logger {
  // One pino child per logger, a request's included: pino makes each logger the prototype of its
  // children, and turning a fresh one into a prototype on every request costs several times more.
  const log = unnamed.child(Object.assign({}, bindings, { service }), options);
  // The same without the service, made when this logger gets a child of its own.
  let bare: Logger | undefined;
  const child = (childBindings: Bindings, childOptions?: ChildLoggerOptions): Logger => {
    bare ??= unnamed.child(bindings, options);
    let own = service;
    let rest = childBindings;
    if (childBindings.service !== undefined) {
      own = String(childBindings.service);
      rest = Object.assign({}, childBindings, { service: undefined }); // pino skips undefined bindings
    }
    // This logger's level, which may have changed since it was made, unless the child has its own.
    const level = childOptions?.level ?? log.level;
    const inherits = !childOptions && level === bare.level;
    return named(bare, own, rest, inherits ? undefined : Object.assign({}, childOptions, { level }));
  };
  // No custom levels here, so pino's generic signature comes down to this one.
  log.child = child as unknown as Logger['child'];
  return log;
}
