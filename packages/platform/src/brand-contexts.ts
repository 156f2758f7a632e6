import { createHash } from 'node:crypto';
import { type BrandedContext, brandKitChanged } from '@bilten/contracts/branding';
import { eq, sql } from 'drizzle-orm';
import { jsonb, type PgSchema, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { EventConsumer } from './consumers.ts';
import type { Database, Transaction } from './db.ts';

export type { BrandedContext } from '@bilten/contracts/branding';

/**
 * Every service that renders for an organization (mails, pushes, tickets, receipts) keeps its own
 * copy of the organization's brand from branding's `brand_kit.changed`, so rendering never waits
 * on branding and a change reaches the next render without a restart. Created in the service's
 * own schema, like `eventTables`.
 */
export function brandContextTable(schema: PgSchema) {
  return schema.table('brand_contexts', {
    organizationId: uuid('organization_id').primaryKey(),
    context: jsonb().$type<BrandedContext>().notNull(),
    /** branding's `changedAt`: an older context never replaces a newer one. */
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull(),
  });
}
export type BrandContextTable = ReturnType<typeof brandContextTable>;

/** Bilten's own look, for an organization whose brand has not arrived (branding's default kit). */
export function defaultBrandedContext(organizationId: string): BrandedContext {
  return {
    organizationId,
    primaryColor: '#1F2937',
    accentColor: '#2563EB',
    backgroundColor: '#FFFFFF',
    textColor: '#111827',
    logoUrl: null,
    logo: null,
    emailHeader: null,
    fontFamily: 'SYSTEM_UI',
    emailFooter: null,
    ticketLayout: 'CLASSIC',
    domain: null,
    version: 0,
    changedAt: new Date(0).toISOString(),
  };
}

/** Keeps `table` at the newest context per organization, whatever order events arrive in. */
export function brandContextConsumer(table: BrandContextTable, name = 'brand-contexts'): EventConsumer {
  const consumer: EventConsumer<typeof brandKitChanged.payload> = {
    name,
    event: brandKitChanged,
    // One statement through `tx`: safe to share a transaction with other organizations' events.
    groupCommit: true,
    async handle({ payload }, tx) {
      await tx
        .insert(table)
        .values({
          organizationId: payload.organizationId,
          context: payload,
          changedAt: new Date(payload.changedAt),
        })
        .onConflictDoUpdate({
          target: table.organizationId,
          set: { context: sql`excluded.context`, changedAt: sql`excluded.changed_at` },
          setWhere: sql`excluded.changed_at > ${table.changedAt}`,
        });
    },
  };
  return consumer as EventConsumer;
}

/** The organization's brand as this service last heard it, or Bilten's own look. */
export async function brandContextOf(
  db: Database | Transaction,
  table: BrandContextTable,
  organizationId: string,
): Promise<BrandedContext> {
  const [row] = await db
    .select({ context: table.context })
    .from(table)
    .where(eq(table.organizationId, organizationId));
  return row?.context ?? defaultBrandedContext(organizationId);
}

/**
 * Where an organization's links point: `https://<its active domain>` when it has one, else
 * `fallback` (the web app's or the gateway's public URL), without a trailing slash.
 */
export function brandLinkBase(context: Pick<BrandedContext, 'domain'>, fallback: string): string {
  return context.domain ? `https://${context.domain}` : fallback.replace(/\/+$/, '');
}

export interface BrandImages {
  /** The image's bytes, checked against `sha256`; null when it cannot be had (the render goes on without it). */
  fetch(sha256: string): Promise<Buffer | null>;
}

/**
 * Brand images (logos for PDFs) fetched from `<assetsUrl>/assets/<sha256>` and kept in memory:
 * content-addressed, so a hash's bytes never change, and bytes that do not hash to what was asked
 * are refused (a tampered or mixed-up store cannot put another image on a ticket).
 */
export function createBrandImages({
  assetsUrl,
  timeoutMs = 2000,
  maxEntries = 256,
}: {
  assetsUrl: string;
  timeoutMs?: number;
  maxEntries?: number;
}): BrandImages {
  const cache = new Map<string, Buffer>();
  const base = assetsUrl.replace(/\/+$/, '');
  return {
    async fetch(sha256) {
      if (!/^[0-9a-f]{64}$/.test(sha256)) return null;
      const cached = cache.get(sha256);
      if (cached) return cached;
      try {
        const response = await fetch(`${base}/assets/${sha256}`, { signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) return null;
        const bytes = Buffer.from(await response.arrayBuffer());
        if (createHash('sha256').update(bytes).digest('hex') !== sha256) return null;
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(sha256, bytes);
        return bytes;
      } catch {
        return null;
      }
    },
  };
}
