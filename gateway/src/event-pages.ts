import { escapeHtml, formatMoney, uuidInput } from '@bilten/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCOUNT_PAGE_HEADERS, page } from './account-pages.ts';
import {
  brandedPage,
  brandedPageHeaders,
  hostOrganizationOf,
  type PageBrand,
  pageBrandOf,
} from './custom-domains.ts';
import { graphqlAsVisitor } from './graphql-as-visitor.ts';

/**
 * `GET /events/{id}`: the page messaging's mails link to when there is no web app (`PUBLIC_WEB_URL`
 * unset: follower mails, reminders, announcements). A public event's title, time in its own zone,
 * place, organizer and ticket types with what is left, read through this gateway's own `/graphql`
 * (in-process, as an anonymous visitor: the public rules, limits and logs). Unknown, unlisted to
 * anonymous readers, or malformed: one 404 page, so the answer says nothing more. On an
 * organization's verified custom host (custom-domains.ts) the page wears that organization's brand,
 * and another organization's event there is that same 404.
 */

const EVENT_PAGE_QUERY = `query EventPage($id: ID!) {
  event(id: $id) {
    title description startsAt endsAt timezone onlineUrl status
    venue { name city country }
    organizer { id name }
    ticketTypes { id name price { amount currency } }
    availability { remaining ticketTypes { ticketType { id } remaining } }
  }
}`;

interface EventPageData {
  title: string;
  description: string | null;
  startsAt: string;
  endsAt: string;
  timezone: string;
  onlineUrl: string | null;
  status: string;
  venue: { name: string; city: string; country: string } | null;
  organizer: { id: string; name: string } | null;
  ticketTypes: Array<{ id: string; name: string; price: { amount: number; currency: string } }>;
  availability: {
    remaining: number;
    ticketTypes: Array<{ ticketType: { id: string }; remaining: number }>;
  } | null;
}

const when = (at: string, timezone: string) =>
  new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone: timezone }).format(
    new Date(at),
  );

function eventHtml(event: EventPageData): string {
  const left = new Map(
    (event.availability?.ticketTypes ?? []).map((type) => [type.ticketType.id, type.remaining]),
  );
  const place = event.venue
    ? `${event.venue.name}, ${event.venue.city}, ${event.venue.country}`
    : event.onlineUrl
      ? 'Online'
      : '';
  const rows = event.ticketTypes.map((type) => {
    const remaining = left.get(type.id);
    const stock = remaining === undefined ? '' : remaining > 0 ? `${remaining} left` : 'sold out';
    return `<li>${escapeHtml(type.name)}: ${escapeHtml(formatMoney(type.price))}${stock ? ` (${stock})` : ''}</li>`;
  });
  return [
    event.status === 'CANCELLED' ? '<p class="error">This event is cancelled.</p>' : '',
    `<p><strong>${escapeHtml(when(event.startsAt, event.timezone))}</strong> (${escapeHtml(event.timezone)})</p>`,
    place ? `<p>${escapeHtml(place)}</p>` : '',
    event.organizer ? `<p>By ${escapeHtml(event.organizer.name)}</p>` : '',
    event.description ? `<p>${escapeHtml(event.description)}</p>` : '',
    rows.length ? `<ul>${rows.join('')}</ul>` : '',
  ].join('\n');
}

const NOT_FOUND_TEXT = '<p>There is no such event, or it is not public.</p>';
const UNAVAILABLE_TEXT = '<p>This page cannot be shown right now.</p>';
const notFound = () => page('Event not found', NOT_FOUND_TEXT);

export function registerEventPages(app: FastifyInstance) {
  app.get<{ Params: { id: string } }>('/events/:id', async (request, reply) => {
    const host = hostOrganizationOf(request);
    if (host) {
      // A custom host shows its own organization's events only, in its brand.
      const brand = await pageBrandOf(app, request, host.organizationId);
      return brandedEventPage(app, request, reply, brand, host.organizationId);
    }
    reply.headers(ACCOUNT_PAGE_HEADERS);
    if (!uuidInput.safeParse(request.params.id).success) return reply.status(404).send(notFound());
    const response = await graphqlAsVisitor(app, request, {
      query: EVENT_PAGE_QUERY,
      variables: { id: request.params.id },
    });
    const answer = response.json() as { data?: { event: EventPageData | null }; errors?: unknown[] };
    if (response.statusCode === 429)
      return reply.status(429).send(page('Too many requests', '<p>Try again in a minute.</p>'));
    const event = answer.data?.event;
    // An error is ours (a subgraph away), not the visitor's: say so rather than "not found".
    if (!event && answer.errors?.length)
      return reply.status(503).send(page('Unavailable', '<p>This page cannot be shown right now.</p>'));
    if (!event) return reply.status(404).send(notFound());
    return reply.status(200).send(page(event.title, eventHtml(event)));
  });
}

/** `/events/{id}` on an organization's custom host: its brand, and its own events only. */
async function brandedEventPage(
  app: FastifyInstance,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  brand: PageBrand,
  organizationId: string,
) {
  reply.headers(brandedPageHeaders(brand));
  const missing = () => reply.status(404).send(brandedPage(brand, 'Event not found', NOT_FOUND_TEXT));
  if (!uuidInput.safeParse(request.params.id).success) return missing();
  const response = await graphqlAsVisitor(app, request, {
    query: EVENT_PAGE_QUERY,
    variables: { id: request.params.id },
  });
  if (response.statusCode === 429)
    return reply.status(429).send(brandedPage(brand, 'Too many requests', '<p>Try again in a minute.</p>'));
  const answer = response.json() as { data?: { event: EventPageData | null }; errors?: unknown[] };
  const event = answer.data?.event;
  // Without its organizer the page cannot tell whose event it is: unavailable, not shown.
  if ((!event && answer.errors?.length) || (event && !event.organizer))
    return reply.status(503).send(brandedPage(brand, 'Unavailable', UNAVAILABLE_TEXT));
  if (!event || event.organizer?.id !== organizationId) return missing();
  return reply.status(200).send(brandedPage(brand, event.title, eventHtml(event)));
}
