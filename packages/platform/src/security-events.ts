import type { ApolloServerPlugin } from '@apollo/server';
import type { EventDefinition, securityEventsPayload } from '@bilten/contracts';
import type { GraphQLError } from 'graphql';
import type { z } from 'zod';
import type { Viewer } from './auth.ts';
import type { Transaction } from './db.ts';
import { DomainError } from './errors.ts';
import type { BaseContext } from './subgraph.ts';
import { tickBatches } from './tick-batches.ts';

/**
 * Security monitoring (issue 18, R4.4): every service reports what it saw (failed sign-ins,
 * FORBIDDEN, rate-limit hits, bad webhook signatures, ...) in one common shape
 * (`securityEventsPayload`); identity records them all in one stream and runs detection rules.
 */

export type SecurityEvent = z.infer<typeof securityEventsPayload>['events'][number];
export type SecurityEventType = SecurityEvent['type'];

/**
 * Where a service's security events go: its own `securityEventsRecorded` contract, through the
 * outbox; or, in identity, straight into the stream (`record`, inside the given transaction).
 */
export type SecurityEventSink =
  | EventDefinition<typeof securityEventsPayload>
  | { record(tx: Transaction, events: SecurityEvent[]): Promise<void> };

/** What a reporter says; the rest (actor, address, request, time) comes from the request. */
export interface SecurityEventReport {
  type: SecurityEventType;
  /** A field path, a webhook provider, an operation: never personal data. */
  target?: string | null;
  details?: SecurityEvent['details'];
  organizationId?: string | null;
  /** Overrides the caller (a failed sign-in is anonymous whoever is signed in). */
  actor?: Pick<SecurityEvent, 'actorId' | 'actorKind'>;
}

type ReportingContext = Pick<BaseContext, 'viewer' | 'requestId' | 'clientIp'>;

/** The caller as security monitoring counts it: platform admins apart, like the access audit. */
export function securityActorOf(viewer: Viewer): Pick<SecurityEvent, 'actorId' | 'actorKind'> {
  if (viewer.kind === 'user')
    return { actorId: viewer.userId, actorKind: viewer.roles.includes('ADMIN') ? 'admin' : 'user' };
  if (viewer.kind === 'apiKey') return { actorId: viewer.keyId, actorKind: 'api_key' };
  return { actorId: null, actorKind: 'anonymous' };
}

export function securityEventOf(ctx: ReportingContext, report: SecurityEventReport): SecurityEvent {
  return {
    type: report.type,
    occurredAt: new Date().toISOString(),
    ...(report.actor ?? securityActorOf(ctx.viewer)),
    ip: ctx.clientIp ? ctx.clientIp.slice(0, 64) : null,
    organizationId: report.organizationId ?? null,
    requestId: ctx.requestId ? ctx.requestId.slice(0, 128) : null,
    target: report.target ? report.target.slice(0, 200) : null,
    details: report.details ?? {},
  };
}

/** Most events one report carries (the contract's limit). */
const EVENTS_PER_REPORT = 500;

/** Writes `events` to `sink` inside `tx`. */
export async function writeSecurityEvents(
  tx: Transaction,
  ctx: Pick<BaseContext, 'outbox' | 'requestId'>,
  sink: SecurityEventSink,
  events: SecurityEvent[],
): Promise<void> {
  for (let at = 0; at < events.length; at += EVENTS_PER_REPORT) {
    const slice = events.slice(at, at + EVENTS_PER_REPORT);
    if ('record' in sink) await sink.record(tx, slice);
    else await ctx.outbox.publish(tx, sink, ctx.requestId || 'security', { events: slice });
  }
}

const pendingEvents = tickBatches<SecurityEvent>();

/**
 * Reports security events a request saw. Those of one tick of one request are gathered and
 * written once, in one small transaction of their own (like `reportPersonalDataAccess`). A failed
 * write is logged, never thrown: monitoring must not turn a refusal or a sign-in into an error.
 */
export function reportSecurityEvent(
  ctx: ReportingContext & Pick<BaseContext, 'db' | 'outbox' | 'log'>,
  sink: SecurityEventSink,
  ...reports: SecurityEventReport[]
): Promise<void> {
  if (!reports.length) return Promise.resolve();
  const events = reports.map((report) => securityEventOf(ctx, report));
  return pendingEvents
    .add(ctx, events, (gathered) => ctx.db.transaction((tx) => writeSecurityEvents(tx, ctx, sink, gathered)))
    .catch((err) => ctx.log.error({ err, security: true }, 'security events not recorded'));
}

/** The codes a caller's errors are reported under: refusals worth counting. */
const REPORTED_CODES: Partial<Record<string, SecurityEventType>> = {
  FORBIDDEN: 'forbidden',
  RATE_LIMITED: 'rate_limited',
};

function codeOf(error: GraphQLError): string | undefined {
  if (error.originalError instanceof DomainError) return error.originalError.code;
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Reports every FORBIDDEN and RATE_LIMITED answer of a subgraph (its field rate limits included)
 * to `sink`, with the refused field's path as the target; and every mutation a platform admin
 * makes (`admin_action`, one per root field). The answer waits for the small write.
 */
export function securityEventsPlugin(sink: SecurityEventSink): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      const refusals: SecurityEventReport[] = [];
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors) {
            const type = REPORTED_CODES[codeOf(error) ?? ''];
            if (!type) continue;
            const path = error.path?.filter((part) => typeof part === 'string').join('.');
            refusals.push({
              type,
              target: path || null,
              details: { operation: operationName?.slice(0, 100) ?? null },
            });
          }
        },
        async willSendResponse({ contextValue, operation, operationName, errors }) {
          const reports = [...refusals];
          if (
            operation?.operation === 'mutation' &&
            securityActorOf(contextValue.viewer).actorKind === 'admin'
          ) {
            const failed = new Set((errors ?? []).map((error) => String(error.path?.[0] ?? '')));
            for (const selection of operation.selectionSet.selections) {
              if (selection.kind !== 'Field' || selection.name.value.startsWith('__')) continue;
              const field = selection.name.value;
              reports.push({
                type: 'admin_action',
                target: `Mutation.${field}`,
                details: {
                  operation: operationName?.slice(0, 100) ?? null,
                  failed: failed.has(selection.alias?.value ?? field),
                },
              });
            }
          }
          await reportSecurityEvent(contextValue, sink, ...reports);
        },
      };
    },
  };
}
