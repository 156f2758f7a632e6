import { DomainError, requireOrgRole } from '@bilten/platform';
import { isSupportedLocale } from '../adapters/renderer.ts';
import { TEMPLATES } from '../adapters/templates/index.ts';
import type { Context } from '../context.ts';
import type { NotificationKind as NotificationKindEnum, NotificationPreview } from '../generated/graphql.ts';
import { brandOf } from './brand-kits.ts';
import { CRITICAL_CATEGORIES, KINDS, kindFromEnum, kindToEnum } from './delivery-rules.ts';

/** Who the preview greets. */
const SAMPLE_RECIPIENT = { name: 'Amra Hodžić' };
/** Stands in for a real signed opt-out link, so the footer shows as recipients see it. */
const SAMPLE_UNSUBSCRIBE_URL = 'https://bilten.example/unsubscribe?token=preview';

/** ADMIN+ of the organization: how `kind` looks in its brand and `locale`, with each kind's sample data. */
export async function previewNotification(
  ctx: Pick<Context, 'db' | 'viewer' | 'renderer'>,
  input: { organizationId: string; kind: NotificationKindEnum; locale?: string | null },
): Promise<NotificationPreview> {
  requireOrgRole(ctx.viewer, input.organizationId, 'ADMIN');
  const locale = input.locale ?? 'en';
  if (!isSupportedLocale(locale)) {
    throw new DomainError('BAD_USER_INPUT', 'input.locale: must be en or bs', { field: ['input', 'locale'] });
  }
  const kind = kindFromEnum(input.kind);
  const data = { ...TEMPLATES[kind].sample, recipient: SAMPLE_RECIPIENT };
  const brand = await brandOf(ctx.db, input.organizationId);
  // Mails that can be turned off carry the visible unsubscribe link; critical ones never do.
  const optional = !KINDS[kind].critical && !CRITICAL_CATEGORIES.has(KINDS[kind].category);
  const email = await ctx.renderer.email(kind, locale, data, brand, {
    ...(optional ? { unsubscribeUrl: SAMPLE_UNSUBSCRIBE_URL } : {}),
  });
  const short = await ctx.renderer.short(kind, locale, data, brand);
  return {
    kind: kindToEnum(kind),
    locale,
    subject: email.subject,
    html: email.html,
    text: email.text,
    shortTitle: short.title,
    shortBody: short.body,
  };
}
