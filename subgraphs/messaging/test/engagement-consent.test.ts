/**
 * Opens and clicks are recorded only for a recipient who granted ANALYTICS (issue 18), as
 * identity announces it (consentChanged → messaging's copy). Without it the reader still gets the
 * pixel and the redirect, and the delivery shows nothing of what they did.
 */
import { consentChanged } from '@bilten/contracts/identity';
import { columnAad, keyRingFromEnv, newEvent } from '@bilten/platform';
import { startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { DELIVERY_COLUMNS } from '../src/db/schema.ts';
import { createEmailTracking } from '../src/domain/engagement.ts';
import { messagingSubgraph } from '../src/server.ts';

const GATEWAY = 'https://gateway.example';
const SECRET = 'engagement-consent-test-secret-of-32-chars';
const MAIL = '<html><body><a href="https://bilten.example/events/1">The event</a></body></html>';

let subgraph: TestSubgraph;
let origin: string;
const tracking = createEmailTracking({
  env: { NODE_ENV: 'test', MAIL_LINK_SECRET: SECRET },
  gateway: GATEWAY,
});
const ring = keyRingFromEnv({ NODE_ENV: 'test' });
const addressHash = createAddressHash({ NODE_ENV: 'test', MAIL_LINK_SECRET: SECRET });

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'in-process', {
    env: { MAIL_LINK_SECRET: SECRET, PUBLIC_GATEWAY_URL: GATEWAY },
  });
  origin = new URL(subgraph.service.url).origin;
});

afterAll(async () => {
  await subgraph?.dispose();
});

let sequence = 0;
/** identity's answer, as messaging receives it; resolves once the copy holds it. */
async function analyticsConsent(userId: string, granted: boolean) {
  const changedAt = new Date(Date.now() + ++sequence).toISOString();
  await subgraph.testBus.bus.publish(
    newEvent(consentChanged, userId, sequence, {
      userId,
      purpose: 'ANALYTICS',
      organizationId: null,
      granted,
      textVersion: 'analytics/2026-12',
      changedAt,
    }),
  );
  await waitFor(async () => {
    const [row] = await subgraph.sql<Array<{ granted: boolean; changed_at: Date }>>`
      select granted, changed_at from messaging.consents where user_id = ${userId} and purpose = 'ANALYTICS'`;
    return row?.granted === granted && row.changed_at.toISOString() === changedAt;
  });
}

/** A sent email to `recipientId` (null: a guest), sealed as enqueueDeliveries seals it. */
async function sentMail(recipientId: string | null) {
  const id = uuidv7();
  const address = `reader-${id}@example.com`;
  await subgraph.sql`
    insert into messaging.deliveries (
      id, recipient_id, kind, category, critical, channel, source_event_id, address_sealed, address_hash,
      data_sealed, status, next_attempt_at, transport, sent_at)
    values (
      ${id}, ${recipientId}, 'announcement', 'ANNOUNCEMENTS', false, 'EMAIL', ${uuidv7()},
      ${ring.encrypt(address, columnAad(DELIVERY_COLUMNS[0], id))}, ${addressHash(address, 'EMAIL')},
      ${ring.encrypt('{}', columnAad(DELIVERY_COLUMNS[1], id))}, 'SENT',
      ${new Date(Date.now() + 86_400_000)}, 'smtp', now())`;
  return id;
}

const engagementOf = async (id: string) =>
  (
    await subgraph.sql<Array<{ status: string; opened_at: Date | null; clicked_at: Date | null }>>`
      select status, opened_at, clicked_at from messaging.deliveries where id = ${id}`
  )[0]!;

const atSubgraph = (link: string) => `${origin}${new URL(link).pathname}`;

/** Loads the mail's pixel and follows its link, as a reader's mail client and browser would. */
async function readAndClick(deliveryId: string) {
  const html = tracking.decorate(MAIL, deliveryId);
  const pixel = await fetch(atSubgraph(/<img src="([^"]+)"/.exec(html)![1]!));
  expect(pixel.status).toBe(200);
  expect(Buffer.from(await pixel.arrayBuffer())).toHaveLength(43);
  const click = await fetch(atSubgraph(/href="([^"]+)"/.exec(html)![1]!), { redirect: 'manual' });
  expect(click.status).toBe(302);
  expect(click.headers.get('location')).toBe('https://bilten.example/events/1');
}

const UNTRACKED = { status: 'SENT', opened_at: null, clicked_at: null };

describe('engagement tracking under the ANALYTICS consent', () => {
  it('records the open and the click of a recipient who granted ANALYTICS', async () => {
    const userId = uuidv7();
    await analyticsConsent(userId, true);
    const deliveryId = await sentMail(userId);

    const html = tracking.decorate(MAIL, deliveryId);
    await fetch(atSubgraph(/<img src="([^"]+)"/.exec(html)![1]!));
    expect(await engagementOf(deliveryId)).toMatchObject({ status: 'OPENED', clicked_at: null });
    await readAndClick(deliveryId);
    expect(await engagementOf(deliveryId)).toMatchObject({
      status: 'CLICKED',
      opened_at: expect.any(Date),
      clicked_at: expect.any(Date),
    });
  });

  it('records nothing once the consent is withdrawn, and the pixel and the redirect still work', async () => {
    const userId = uuidv7();
    await analyticsConsent(userId, true);
    await analyticsConsent(userId, false);
    const deliveryId = await sentMail(userId);

    await readAndClick(deliveryId);
    expect(await engagementOf(deliveryId)).toEqual(UNTRACKED);
  });

  it('records nothing for a user who never answered, nor for a guest (no account, no consent)', async () => {
    const neverAsked = await sentMail(uuidv7());
    const guest = await sentMail(null);

    await readAndClick(neverAsked);
    await readAndClick(guest);
    expect(await engagementOf(neverAsked)).toEqual(UNTRACKED);
    expect(await engagementOf(guest)).toEqual(UNTRACKED);
  });
});
