import { eventCancelled, eventPublished } from '@bilten/contracts/catalog';
import { userEmailChanged } from '@bilten/contracts/identity';
import { announcementPosted } from '@bilten/contracts/messaging';
import { orderPaid } from '@bilten/contracts/orders';
import { type DomainEvent, newEvent } from '@bilten/platform';
import {
  startTestSmtpServer,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSmtpServer,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOUNCEMENTS_PER_EVENT_PER_HOUR } from '../src/domain/announcements.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, consumerDeliveries, knownOrganization } from './support.ts';

let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
/** While set, every commit of an announcementPosted loses its ack (a crash before the ack): JetStream redelivers. */
let crashAnnouncements = false;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: { SMTP_URL: smtp.url, PUBLIC_WEB_URL: 'https://bilten.example' },
    consumers: {
      loseAckAfterCommit: (event) => crashAnnouncements && event.type === announcementPosted.type,
    },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
});

const publish = (event: DomainEvent) => subgraph.testBus.bus.publish(event);

/** A published event of an organization messaging knows by name; resolves once its schedule is stored. */
async function publishedEvent(title = 'Sarajevo Jazz Night') {
  const organizationId = await knownOrganization(jsm, subgraph, 'Kino Meeting Point');
  const eventId = uuidv7();
  await publish(
    newEvent(eventPublished, eventId, 1, {
      eventId,
      organizationId,
      title,
      visibility: 'PUBLIC',
      startsAt: '2031-09-01T18:00:00.000Z',
      endsAt: '2031-09-01T21:00:00.000Z',
      timezone: 'Europe/Sarajevo',
      venue: null,
      onlineUrl: 'https://stream.example/live',
    }),
  );
  await waitFor(async () => {
    const [row] = await subgraph.sql`select 1 from messaging.event_schedules where event_id = ${eventId}`;
    return row !== undefined;
  });
  return { eventId, organizationId, title };
}

/** A user in the address book holding a paid ticket of the event. */
async function holderOf(event: Awaited<ReturnType<typeof publishedEvent>>) {
  const holder = { userId: uuidv7(), email: `${uuidv7()}@example.test`, name: 'Lejla Holder' };
  await publish(newEvent(userEmailChanged, holder.userId, 1, { userId: holder.userId, email: holder.email }));
  const orderId = uuidv7();
  await publish(
    newEvent(orderPaid, orderId, 2, {
      orderId,
      eventId: event.eventId,
      organizationId: event.organizationId,
      buyerId: holder.userId,
      buyerEmail: holder.email,
      buyerName: holder.name,
      eventTitle: event.title,
      tickets: [],
      total: { amount: 2000, currency: 'BAM' },
    }),
  );
  await waitFor(async () => {
    const [row] = await subgraph.sql`
      select 1 from messaging.order_book o join messaging.recipients r on r.user_id = o.user_id
      where o.id = ${orderId} and o.holding_since is not null`;
    return row !== undefined;
  });
  return holder;
}

const SEND = `mutation($input: SendAnnouncementInput!) {
  sendAnnouncement(input: $input) {
    announcement { id eventId subject body createdAt }
    errors { code message field }
  }
}`;
interface SendResult {
  sendAnnouncement: {
    announcement: { id: string; eventId: string; subject: string; body: string; createdAt: string } | null;
    errors: UserError[];
  };
}

async function send(
  role: Record<string, string>,
  input: { eventId: string; subject: string; body: string },
  userId = uuidv7(),
) {
  return subgraph.gql<SendResult>(SEND, { input }, await subgraph.bearer({ sub: userId, orgs: role }));
}

const announcementsOf = (eventId: string) =>
  subgraph.sql<Array<{ id: string; subject: string; body: string; posted_by: string }>>`
    select id, subject, body, posted_by from messaging.announcements where event_id = ${eventId} order by id`;

const postedEvents = (eventId: string) =>
  subgraph.sql`select id from messaging.outbox where type = ${announcementPosted.type} and payload->>'eventId' = ${eventId}`;

describe('sendAnnouncement', () => {
  it("reaches the event's holders in-app and by email, with the body escaped, once despite a redelivery", async () => {
    const event = await publishedEvent();
    const holder = await holderOf(event);
    const admin = uuidv7();
    crashAnnouncements = true;
    let sent: SendResult['sendAnnouncement'];
    try {
      const { data, errors } = await send(
        { [event.organizationId]: 'ADMIN' },
        {
          eventId: event.eventId,
          subject: '  Doors open at 19:00  ',
          body: 'Bring your ticket.\n<script>alert("x")</script>',
        },
        admin,
      );
      expect(errors).toBeUndefined();
      sent = data!.sendAnnouncement;
      await waitFor(
        async () => (await consumerDeliveries(jsm, subgraph, 'announcement-holders')) >= 2,
        20_000,
      );
    } finally {
      crashAnnouncements = false;
    }
    await consumerCaughtUp(jsm, subgraph, 'announcement-holders');

    expect(sent.errors).toEqual([]);
    expect(sent.announcement).toMatchObject({
      eventId: event.eventId,
      subject: 'Doors open at 19:00',
      body: 'Bring your ticket.\n<script>alert("x")</script>',
    });
    expect(await announcementsOf(event.eventId)).toEqual([
      expect.objectContaining({ id: sent.announcement!.id, posted_by: admin }),
    ]);
    expect(await postedEvents(event.eventId)).toHaveLength(1);

    const inApp = await subgraph.sql<Array<{ id: string }>>`
      select id from messaging.notifications where recipient_id = ${holder.userId} and kind = 'announcement'`;
    expect(inApp).toHaveLength(1);

    const mail = await smtp.waitForMessage(
      (message) =>
        message.envelope.to.includes(holder.email) && message.parsed.subject?.includes('Doors open') === true,
      20_000,
    );
    expect(mail.parsed.html).toContain('&lt;script&gt;');
    expect(mail.parsed.html).not.toContain('<script>alert');
    expect(mail.parsed.text).toContain('Bring your ticket.');
    // Non-critical: the holder can opt out of announcements in one click.
    expect(mail.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    const [deliveries] = await subgraph.sql<Array<{ count: number }>>`
      select count(*)::int as count from messaging.deliveries where kind = 'announcement' and recipient_id = ${holder.userId}`;
    expect(deliveries!.count).toBe(1);
    expect(
      smtp.messages.filter(
        (message) =>
          message.envelope.to.includes(holder.email) && message.parsed.subject?.includes('Doors open'),
      ),
    ).toHaveLength(1);
  });

  it('refuses STAFF of the organization and ADMINs of another, storing nothing', async () => {
    const event = await publishedEvent();
    const input = { eventId: event.eventId, subject: 'Hello', body: 'World' };
    for (const role of [{ [event.organizationId]: 'STAFF' }, { [uuidv7()]: 'OWNER' }, {}]) {
      const { data, errors } = await send(role, input);
      expect(data).toBeNull();
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const anonymous = await subgraph.gql<SendResult>(SEND, { input }, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await announcementsOf(event.eventId)).toEqual([]);
    expect(await postedEvents(event.eventId)).toEqual([]);
  });

  it('answers NOT_FOUND for an unknown or cancelled event, and INVALID_INPUT for a bad subject or body', async () => {
    const unknown = uuidv7();
    const notFound = {
      announcement: null,
      errors: [{ code: 'NOT_FOUND', message: 'no such event', field: ['input', 'eventId'] }],
    };
    const asked = await send({}, { eventId: unknown, subject: 'Hello', body: 'World' });
    expect(asked.data!.sendAnnouncement).toEqual(notFound);

    const event = await publishedEvent();
    const owner = { [event.organizationId]: 'OWNER' };
    for (const [input, field] of [
      [{ subject: 'Two\nlines', body: 'ok' }, 'subject'],
      [{ subject: 'x'.repeat(201), body: 'ok' }, 'subject'],
      [{ subject: 'ok', body: '   ' }, 'body'],
      [{ subject: 'ok', body: 'x'.repeat(5001) }, 'body'],
    ] as const) {
      const { data } = await send(owner, { eventId: event.eventId, ...input });
      expect(data!.sendAnnouncement.announcement).toBeNull();
      expect(data!.sendAnnouncement.errors).toEqual([
        expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', field] }),
      ]);
    }

    await publish(
      newEvent(eventCancelled, event.eventId, 2, {
        eventId: event.eventId,
        organizationId: event.organizationId,
        title: event.title,
        reason: null,
        ticketsSold: 0,
      }),
    );
    await waitFor(async () => {
      const [row] = await subgraph.sql`
        select 1 from messaging.event_schedules where event_id = ${event.eventId} and cancelled_at is not null`;
      return row !== undefined;
    });
    const cancelled = await send(owner, { eventId: event.eventId, subject: 'Hello', body: 'World' });
    expect(cancelled.data!.sendAnnouncement).toEqual(notFound);
    expect(await announcementsOf(event.eventId)).toEqual([]);
  });

  it(`allows ${ANNOUNCEMENTS_PER_EVENT_PER_HOUR} announcements per event an hour, even sent at once`, async () => {
    const event = await publishedEvent();
    const admin = { [event.organizationId]: 'ADMIN' };
    const results = await Promise.all(
      Array.from({ length: ANNOUNCEMENTS_PER_EVENT_PER_HOUR + 2 }, (_, index) =>
        send(admin, { eventId: event.eventId, subject: `Update ${index}`, body: 'News' }),
      ),
    );
    const accepted = results.filter((result) => result.data?.sendAnnouncement.announcement);
    const limited = results.filter((result) => result.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(accepted).toHaveLength(ANNOUNCEMENTS_PER_EVENT_PER_HOUR);
    expect(limited).toHaveLength(2);
    expect(await announcementsOf(event.eventId)).toHaveLength(ANNOUNCEMENTS_PER_EVENT_PER_HOUR);
    // Another event of the organization has its own allowance.
    const other = await publishedEvent('Another night');
    const { data } = await send(
      { [other.organizationId]: 'ADMIN' },
      { eventId: other.eventId, subject: 'Hi', body: 'There' },
    );
    expect(data!.sendAnnouncement.errors).toEqual([]);
  });
});
