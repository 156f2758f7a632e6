import { type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger, pino } from 'pino';
import { maskCardNumbers } from './card-numbers.ts';
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
      // Children's bindings are redacted in `named`: pino formats only the root's.
      formatters: { log: redactSecrets },
      hooks: { streamWrite: (line) => maskProviderSecretsInLine(maskCardsInLine(line)) },
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
  const log = unnamed.child(redactSecrets(Object.assign({}, bindings, { service })), options);
  // The same without the service, made when this logger gets a child of its own.
  let bare: Logger | undefined;
  const child = (childBindings: Bindings, childOptions?: ChildLoggerOptions): Logger => {
    bare ??= unnamed.child(redactSecrets(bindings), options);
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

/**
 * Keys whose values are secrets or card data, at any depth of a logged object: passwords, tokens
 * (payment-method ones included), keys, cookies, credentials, card numbers and CVCs.
 */
const SECRET_KEY =
  /password|passphrase|secret|token|authorization|cookie|api_?key|private_?key|credential|card_?number|^pan$|cvc|cvv/i;

export const REDACTED = '[redacted]';

/**
 * `object` with the value of every secret-named key replaced by `[redacted]`; the same object
 * when it has none (nothing is copied on the common path). Errors are left to their serializer:
 * their text goes through `maskCardsInLine` like the rest of the line.
 */
export function redactSecrets<T>(object: T, depth = 0): T {
  if (!object || typeof object !== 'object' || depth > 8 || object instanceof Error) return object;
  if (Array.isArray(object)) {
    const items = object.map((item) => redactSecrets(item, depth + 1));
    return (items.some((item, index) => item !== object[index]) ? items : object) as T;
  }
  if (Object.getPrototypeOf(object) !== Object.prototype && Object.getPrototypeOf(object) !== null)
    return object;
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(object as Record<string, unknown>)) {
    const clean =
      value !== undefined && value !== null && SECRET_KEY.test(key)
        ? REDACTED
        : redactSecrets(value, depth + 1);
    if (clean === value) continue;
    copy ??= { ...(object as Record<string, unknown>) };
    copy[key] = clean;
  }
  return (copy ?? object) as T;
}

/**
 * The written line with every card-like number (Luhn-valid, 12–19 digits, grouped or not)
 * replaced by `[card]`, wherever it was: the message, a binding, a nested value, an error's
 * message or stack (as a bare number, only from 15 digits: see `isCardLikeNumber`). Most lines are returned as they are after one cheap test.
 */
export function maskCardsInLine(line: string): string {
  return maskCardNumbers(line, (card, text, index) => {
    if (insideJsonString(text, index)) return '[card]';
    // A bare number: quoted, so that the line stays JSON; a time in milliseconds stays as it is.
    return card.length >= 15 ? '"[card]"' : card;
  });
}

/**
 * Payment providers' secrets by their shape, wherever they are in the line (an error's text, a
 * value under an innocent key): Stripe secret and restricted keys (`sk_live_…`, `rk_test_…`) and
 * webhook signing secrets (`whsec_…`). Publishable keys (`pk_…`) are public and stay.
 */
const PROVIDER_SECRET = /\b(?:(?:sk|rk)_(?:live|test)|whsec)_[A-Za-z0-9_]+/g;

export function maskProviderSecretsInLine(line: string): string {
  if (!line.includes('sk_') && !line.includes('whsec_')) return line;
  return line.replace(PROVIDER_SECRET, REDACTED);
}

/** Whether `index` of a JSON text falls inside a string (else it starts a bare number). */
function insideJsonString(json: string, index: number): boolean {
  let inside = false;
  for (let i = 0; i < index; i++) {
    const char = json.charCodeAt(i);
    if (char === 92 /* \\ */) i++;
    else if (char === 34 /* " */) inside = !inside;
  }
  return inside;
}
