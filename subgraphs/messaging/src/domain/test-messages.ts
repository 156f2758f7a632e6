import {
  type Database,
  DomainError,
  decodeCursor,
  encodeCursor,
  isUuid,
  type Logger,
  pageSize,
  requireOrgRole,
  runPeriodically,
  type Viewer,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { recordAttempt, updateDelivery } from '../db/deliveries.ts';
import type { DeliveryRow, TestMessageRow } from '../db/schema.ts';
import {
  deleteTestMessagesBefore,
  insertTestMessage,
  isTestModeOrganization,
  type TestMessageKey,
  testMessagesOf,
} from '../db/test-messages.ts';
import type { DataOf } from './channels.ts';
import { type RenderingDeps, renderEmailOf, renderShortOf, smsTextOf } from './delivery-rendering.ts';
import { KINDS, type KindName, kindToEnum } from './delivery-rules.ts';

// Test mode: what a test-mode organization (or sandbox) would send is rendered as for real and kept
// in test_messages instead of reaching a transport, readable through `testMessages` for 7 days.

/** How long captured messages are kept. */
export const TEST_MESSAGE_RETENTION_MS = 7 * 86_400_000;

/**
 * Whether the delivery is captured rather than sent: it is about a test-mode organization's
 * business (orders, tickets, its events). Account mails (verification, password reset, an
 * invitation to join) reach their person whatever organization they name: they are access, not
 * test data.
 */
export async function capturesDelivery(
  db: Database,
  row: Pick<DeliveryRow, 'organizationId' | 'kind'>,
): Promise<boolean> {
  if (!row.organizationId || KINDS[row.kind as KindName]?.category === 'ACCOUNT_SECURITY') return false;
  return isTestModeOrganization(db, row.organizationId);
}

/**
 * Renders the delivery as the worker would send it (untracked: nobody opens it) and keeps it, then
 * marks the delivery CAPTURED, in one transaction; claimed again after a lost lease, it keeps one
 * message. No transport, so no suppression, hourly limit or fallback applies.
 */
export async function captureDelivery(
  deps: RenderingDeps,
  row: DeliveryRow,
  address: string,
  data: DataOf<KindName>,
): Promise<void> {
  let message: { subject: string | null; text: string; html: string | null };
  if (row.channel === 'EMAIL') {
    const email = await renderEmailOf(deps, row, data);
    message = { subject: email.subject, text: email.text, html: email.html };
  } else {
    const short = await renderShortOf(deps, row, data);
    message =
      row.channel === 'SMS'
        ? { subject: null, text: smsTextOf(short), html: null }
        : { subject: short.title, text: [short.body, short.url].filter(Boolean).join('\n'), html: null };
  }
  await deps.db.transaction(async (tx) => {
    await insertTestMessage(tx, {
      id: uuidv7(),
      organizationId: row.organizationId!,
      deliveryId: row.id,
      kind: row.kind,
      channel: row.channel,
      recipient: address,
      ...message,
      // Milliseconds, as the page cursors carry it.
      capturedAt: new Date(),
    });
    await recordAttempt(tx, {
      deliveryId: row.id,
      attempt: row.attempts,
      transport: 'capture',
      outcome: 'CAPTURED',
      detail: 'test mode: kept, not sent',
    });
    await updateDelivery(tx, row, { status: 'CAPTURED', endedAt: new Date(), transport: 'capture' });
  });
}

/**
 * Who reads an organization's test messages: its API keys (any scope: test data belongs to every
 * integration of the sandbox) and its members from STAFF up.
 */
function requireTestMessageReader(viewer: Viewer, organizationId: string) {
  if (viewer.kind === 'anonymous')
    throw new DomainError('UNAUTHENTICATED', 'sign in or use an API key first');
  if (viewer.kind === 'apiKey') {
    if (viewer.organizationId !== organizationId)
      throw new DomainError('FORBIDDEN', 'needs an API key of this organization');
    return;
  }
  requireOrgRole(viewer, organizationId, 'STAFF');
}

const cursorKey = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.object({ at: z.iso.datetime(), id: z.uuid() }));

const cursorOf = (row: TestMessageRow) =>
  encodeCursor(JSON.stringify({ at: row.capturedAt.toISOString(), id: row.id }));

/**
 * `testMessages(organizationId:)`: newest first. Outsiders are refused before anything is read; a
 * live organization has none to read (FORBIDDEN), so the answer never confuses it with a quiet
 * sandbox.
 */
export async function testMessagePage(
  ctx: Pick<Context, 'db' | 'viewer'>,
  { organizationId, first, after }: { organizationId: string; first?: number | null; after?: string | null },
) {
  requireTestMessageReader(ctx.viewer, organizationId);
  const size = pageSize(first);
  const key = after ? decodeCursor(after, cursorKey) : undefined;
  if (!isUuid(organizationId) || !(await isTestModeOrganization(ctx.db, organizationId)))
    throw new DomainError('FORBIDDEN', 'only a test-mode organization or sandbox has test messages');
  const start: TestMessageKey | undefined = key && { capturedAt: new Date(key.at), id: key.id };
  const rows = await testMessagesOf(ctx.db, organizationId, size + 1, start);
  const nodes = rows.slice(0, size);
  return {
    edges: nodes.map((row) => ({
      cursor: cursorOf(row),
      node: { ...row, kind: kindToEnum(row.kind as KindName) },
    })),
    pageInfo: { hasNextPage: rows.length > size, endCursor: nodes.length ? cursorOf(nodes.at(-1)!) : null },
  };
}

/** Rows deleted per statement: a sweep after a busy week stays short transactions. */
const SWEEP_BATCH = 1_000;
const SWEEP_INTERVAL_MS = 3_600_000;

/** Deletes every message captured more than 7 days before `now`; answers how many. */
export async function sweepTestMessages(db: Database, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - TEST_MESSAGE_RETENTION_MS);
  let deleted = 0;
  for (;;) {
    const batch = await deleteTestMessagesBefore(db, cutoff, SWEEP_BATCH);
    deleted += batch;
    if (batch < SWEEP_BATCH) return deleted;
  }
}

/** Sweeps every hour until stopped; one log line per sweep that deleted something. */
export const startTestMessageSweep = (deps: { db: Database; log: Logger }) =>
  runPeriodically(
    SWEEP_INTERVAL_MS,
    async () => {
      const deleted = await sweepTestMessages(deps.db);
      if (deleted) deps.log.info({ deleted }, 'test messages older than 7 days deleted');
    },
    (err) => deps.log.error({ err }, 'test message sweep failed'),
  );
