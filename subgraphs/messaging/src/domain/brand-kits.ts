import {
  type BrandedContext,
  brandContextConsumer,
  type Database,
  type EventConsumer,
  type Transaction,
} from '@bilten/platform';
import { brandSourcesOf } from '../db/brand-kits.ts';
import { brandContexts } from '../db/schema.ts';
import { type Brand, DEFAULT_BRAND, DEFAULT_FONT_STACK, FONT_STACKS } from './channels.ts';

/**
 * Messaging keeps its own copy of every organization's brand context (kit and active domain), from
 * branding's events, so a fan-out renders thousands of mails without asking branding. The newest
 * wins. The durable consumer keeps its old name: its JetStream position and inbox rows still count.
 */
export const brandKitConsumer = (): EventConsumer => brandContextConsumer(brandContexts, 'brand-kits');

/**
 * Where the email header image is: beside the logo (`<origin of logoUrl>/assets/<sha256>`), or
 * without a logo `/assets/<sha256>`, which the renderer resolves against the gateway (which serves
 * branding's assets).
 */
function emailHeaderUrlOf(context: BrandedContext): string | null {
  // A content hash, nothing else, goes into the path (the stored copy is checked like any input).
  if (!context.emailHeader || !/^[0-9a-f]{64}$/.test(context.emailHeader.sha256)) return null;
  const path = `/assets/${context.emailHeader.sha256}`;
  if (!context.logoUrl) return path;
  try {
    return new URL(path, new URL(context.logoUrl).origin).href;
  } catch {
    return path;
  }
}

/** The brand a context and organizer name make (the renderer checks every value again). */
export function brandFromContext(context: BrandedContext | null, organizerName: string | null): Brand {
  return {
    primaryColor: context?.primaryColor ?? DEFAULT_BRAND.primaryColor,
    accentColor: context?.accentColor ?? DEFAULT_BRAND.accentColor,
    backgroundColor: context?.backgroundColor ?? DEFAULT_BRAND.backgroundColor,
    textColor: context?.textColor ?? DEFAULT_BRAND.textColor,
    fontFamily: FONT_STACKS[context?.fontFamily ?? 'SYSTEM_UI'] ?? DEFAULT_FONT_STACK,
    logoUrl: context?.logoUrl ?? null,
    emailHeaderUrl: context ? emailHeaderUrlOf(context) : null,
    emailFooter: context?.emailFooter ?? null,
    domain: context?.domain ?? null,
    version: context?.version ?? 0,
    organizerName,
  };
}

/**
 * The organization's brand as its mails and pushes show it, read when they are rendered (so the
 * next one after a change uses it): its context (Bilten's look while messaging has none) and its
 * name; null when messaging knows neither.
 */
export async function brandOf(db: Database | Transaction, organizationId: string): Promise<Brand | null> {
  const { context, name } = await brandSourcesOf(db, organizationId);
  if (!context && !name) return null;
  return brandFromContext(context, name);
}
