import type { Database } from '@bilten/platform';
import type { UnsubscribeLinks } from '../adapters/unsubscribe-links.ts';
import type { DeliveryRow } from '../db/schema.ts';
import { brandOf } from './brand-kits.ts';
import type { DataOf, RenderedEmail, RenderedShort, Renderer } from './channels.ts';
import type { KindName } from './delivery-rules.ts';

// What a delivery says, rendered when it goes out (the current brand, template and links): by the
// delivery worker for its transport, and for a test-mode organization into test_messages. The
// brand is read from messaging's copy at that moment, so a queued delivery goes out in the brand
// (and on the domain) current when it is sent, not when it was queued.

export interface RenderingDeps {
  db: Database;
  renderer: Renderer;
  unsubscribe: UnsubscribeLinks;
}

type Rendered = Pick<
  DeliveryRow,
  'kind' | 'locale' | 'critical' | 'recipientId' | 'category' | 'organizationId'
>;

/** The mail in the organization's brand; non-critical mails to users carry their one-click opt-out link. */
export async function renderEmailOf(
  deps: RenderingDeps,
  row: Rendered,
  data: DataOf<KindName>,
): Promise<RenderedEmail & { unsubscribeUrl?: string }> {
  const unsubscribeUrl =
    !row.critical && row.recipientId
      ? deps.unsubscribe.link({ userId: row.recipientId, category: row.category, channel: 'EMAIL' })
      : undefined;
  const brand = row.organizationId ? await brandOf(deps.db, row.organizationId) : null;
  const rendered = await deps.renderer.email(
    row.kind as KindName,
    row.locale,
    data,
    brand,
    unsubscribeUrl ? { unsubscribeUrl } : {},
  );
  return { ...rendered, ...(unsubscribeUrl && { unsubscribeUrl }) };
}

/** What a push or SMS shows: a title, a short body, where a tap leads (on the organization's domain), its icon. */
export const renderShortOf = async (deps: RenderingDeps, row: Rendered, data: DataOf<KindName>) =>
  deps.renderer.short(
    row.kind as KindName,
    row.locale,
    data,
    row.organizationId ? await brandOf(deps.db, row.organizationId) : null,
  );

/** An SMS's one text: the title and body, then the link on a line of its own. */
export const smsTextOf = (short: RenderedShort) =>
  [`${short.title}: ${short.body}`, short.url].filter(Boolean).join('\n');
