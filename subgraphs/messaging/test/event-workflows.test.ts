import { eventCancelled, eventPublished, eventRescheduled } from '@bilten/contracts/catalog';
import { userEmailChanged } from '@bilten/contracts/identity';
import { eventReminderDue } from '@bilten/contracts/messaging';
import { orderPaid, orderStatusChanged } from '@bilten/contracts/orders';
import {
  connectDatabase,
  createOutbox,
  type DatabaseHandle,
  type DomainEvent,
  newEvent,
} from '@bilten/platform';
import {
  captureLogs,
  startTestSmtpServer,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestSmtpServer,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStore } from '../src/db/schema.ts';
import { sweepReminders } from '../src/domain/reminders.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, consumerDeliveries } from './support.ts';

const WEB = 'https://bilten.example';
const HOUR = 3_600_000;

let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;
/** The sweep's own connection, as a second messaging process would have. */
let sweeper: DatabaseHandle;
/** While set, every commit of this event loses its ack (a crash before the ack): JetStream redelivers. */
let crashingOn: string | null = null;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    // The test runs the sweeps itself; the background one waits an hour.
    env: { SMTP_URL: smtp.url, PUBLIC_WEB_URL: WEB, REMINDER_SWEEP_MS: String(HOUR) },
    consumers: { loseAckAfterCommit: (event) => event.id === crashingOn },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
  sweeper = connectDatabase({
    url: subgraph.database.url,
    poolSize: 4,
    applicationName: 'reminder-sweep-test',
  });
});

afterAll(async () => {
  await sweeper?.close();
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
});

const caughtUp = (consumer: string) => consumerCaughtUp(jsm, subgraph, consumer);
const publish = (event: DomainEvent) => subgraph.testBus.bus.publish(event);
const sweep = () =>
  sweepReminders({
    db: sweeper.db,
    outbox: createOutbox(eventStore, 'messaging'),
    log: captureLogs('reminder-sweep').log,
  });

const SARAJEVO = 'Europe/Sarajevo';
const venue = (name: string, city: string) => ({
  name,
  address: 'Maršala Tita 1',
  city,
  country: 'BA',
  latitude: null,
  longitude: null,
});

interface Schedule {
  startsAt: string;
  timezone: string;
  venue: ReturnType<typeof venue> | null;
}
const scheduleOf = ({ startsAt, timezone, venue }: Schedule) => ({
  startsAt,
  endsAt: new Date(Date.parse(startsAt) + 2 * HOUR).toISOString(),
  timezone,
  venue,
  onlineUrl: venue ? null : 'https://stream.example/live',
});

/** An event catalog published; resolves once messaging has its schedule. */
async function publishedEvent(schedule: Schedule, title = 'Sarajevo <Jazz> Night') {
  const eventId = uuidv7();
  const organizationId = uuidv7();
  await publish(
    newEvent(eventPublished, eventId, 1, {
      ...scheduleOf(schedule),
      eventId,
      organizationId,
      title,
      visibility: 'PUBLIC',
    }),
  );
  await waitFor(async () => (await scheduleRow(eventId)) !== undefined);
  return { eventId, organizationId, title };
}

const scheduleRow = async (eventId: string) =>
  (
    await subgraph.sql<
      Array<{ starts_at: Date; place: string; cancelled_at: Date | null; reminded_for: Date | null }>
    >`select starts_at, place, cancelled_at, reminded_for from messaging.event_schedules where event_id = ${eventId}`
  )[0];

type Event = Awaited<ReturnType<typeof publishedEvent>>;

/** A paid order of the event (orderPaid v2); resolves once messaging counts its buyer as a holder. */
async function paidOrder(
  event: Event,
  buyer: { userId: string | null; email: string; name: string },
  amount: number,
) {
  const orderId = uuidv7();
  await publish(
    newEvent(orderPaid, orderId, 2, {
      orderId,
      eventId: event.eventId,
      organizationId: event.organizationId,
      buyerId: buyer.userId,
      buyerEmail: buyer.email,
      buyerName: buyer.name,
      eventTitle: event.title,
      tickets: [],
      total: { amount, currency: 'BAM' },
    }),
  );
  await waitFor(async () => {
    const [row] = await subgraph.sql`
      select 1 from messaging.order_book where id = ${orderId} and holding_since is not null`;
    return row !== undefined;
  });
  return orderId;
}

/** A user with an account, in messaging's address book (as identity's events put them there). */
async function newBuyer(name: string) {
  const buyer = { userId: uuidv7(), email: `${uuidv7()}@example.test`, name };
  await publish(newEvent(userEmailChanged, buyer.userId, 1, { userId: buyer.userId, email: buyer.email }));
  await waitFor(async () => {
    const [row] = await subgraph.sql`select 1 from messaging.recipients where user_id = ${buyer.userId}`;
    return row !== undefined;
  });
  return buyer;
}

/** The buyer chose their language the way users do (updateNotificationPreferences). */
async function speaks(userId: string, locale: 'en' | 'bs') {
  const { data, errors } = await subgraph.gql<{
    updateNotificationPreferences: { errors: unknown[] };
  }>(
    `mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) { errors { code message } }
    }`,
    { input: { locale } },
    await subgraph.bearer({ sub: userId }),
  );
  expect(errors).toBeUndefined();
  expect(data!.updateNotificationPreferences.errors).toEqual([]);
}

/** The mails of this notice (their Message-IDs name its deliveries) to `address`. */
async function mailsOf(sourceEventId: string, address: string) {
  const ids = (
    await subgraph.sql<Array<{ id: string }>>`
      select id from messaging.deliveries where source_event_id = ${sourceEventId} and channel = 'EMAIL'`
  ).map((row) => row.id);
  return smtp.messages.filter(
    (mail) =>
      mail.envelope.to.includes(address) && ids.some((id) => mail.parsed.messageId?.startsWith(`<${id}@`)),
  );
}
const mailOf = (sourceEventId: string, address: string) =>
  waitFor(async () => (await mailsOf(sourceEventId, address))[0], 20_000);

const inAppOf = (userId: string, kind: string) =>
  subgraph.sql<Array<{ source_event_id: string }>>`
    select source_event_id from messaging.notifications
    where recipient_id = ${userId} and kind = ${kind} order by id`;

const deliveriesOf = (sourceEventId: string) =>
  subgraph.sql<Array<{ channel: string; locale: string; recipient_id: string | null; status: string }>>`
    select channel, locale, recipient_id, status from messaging.deliveries
    where source_event_id = ${sourceEventId} order by id`;

/** Publishes `event` and crashes every commit of it until `consumer` has been delivered it twice. */
async function publishRedelivered(event: DomainEvent, consumer: string) {
  crashingOn = event.id;
  try {
    await publish(event);
    await waitFor(async () => (await consumerDeliveries(jsm, subgraph, consumer)) >= 2, 20_000);
  } finally {
    crashingOn = null;
  }
  await caughtUp(consumer);
}

describe('event schedules', () => {
  it('keeps the newest schedule: a late older publication does not undo a reschedule', async () => {
    const first = {
      startsAt: '2031-05-01T18:00:00.000Z',
      timezone: SARAJEVO,
      venue: venue('Dom mladih', 'Sarajevo'),
    };
    const event = await publishedEvent(first);
    expect(await scheduleRow(event.eventId)).toMatchObject({
      place: 'Dom mladih, Sarajevo',
      reminded_for: null,
    });

    const moved = { startsAt: '2031-05-02T18:00:00.000Z', timezone: SARAJEVO, venue: null };
    await publish(
      newEvent(eventRescheduled, event.eventId, 2, {
        ...scheduleOf(moved),
        eventId: event.eventId,
        organizationId: event.organizationId,
        title: event.title,
        previous: scheduleOf(first),
      }),
    );
    await waitFor(async () => (await scheduleRow(event.eventId))?.place === 'online');

    // The publication again, as a producer that retried long ago would send it (older occurredAt).
    const stale = newEvent(eventPublished, event.eventId, 1, {
      ...scheduleOf(first),
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      visibility: 'PUBLIC',
    });
    await publish({ ...stale, occurredAt: new Date(Date.now() - HOUR).toISOString() });
    await caughtUp('event-schedules-published');
    expect(await scheduleRow(event.eventId)).toMatchObject({
      starts_at: new Date(moved.startsAt),
      place: 'online',
    });
  });

  it('records a cancellation even when it arrives before the publication', async () => {
    const eventId = uuidv7();
    const organizationId = uuidv7();
    const publication = newEvent(eventPublished, eventId, 1, {
      ...scheduleOf({ startsAt: '2031-06-01T18:00:00.000Z', timezone: SARAJEVO, venue: null }),
      eventId,
      organizationId,
      title: 'Gone',
      visibility: 'PUBLIC',
    });
    await publish(
      newEvent(eventCancelled, eventId, 2, {
        eventId,
        organizationId,
        title: 'Gone',
        reason: null,
        ticketsSold: 0,
      }),
    );
    await waitFor(async () => (await scheduleRow(eventId))?.cancelled_at != null);
    await publish(publication);
    await caughtUp('event-schedules-published');
    expect((await scheduleRow(eventId))?.cancelled_at).not.toBeNull();
  });
});

describe('rescheduled and cancelled events tell their ticket holders', () => {
  it('tells a holder the old and new time in their language, a refunded buyer nothing, and nothing twice', async () => {
    const before = {
      startsAt: '2031-03-01T18:00:00.000Z',
      timezone: SARAJEVO,
      venue: venue('Dom mladih', 'Sarajevo'),
    };
    const after = {
      startsAt: '2031-03-08T19:30:00.000Z',
      timezone: SARAJEVO,
      venue: venue('Zetra', 'Sarajevo'),
    };
    const event = await publishedEvent(before);
    const holder = await newBuyer('Amra Hodžić');
    const refunded = await newBuyer('Refunded Buyer');
    await speaks(holder.userId, 'bs');
    await paidOrder(event, holder, 4000);
    const refundedOrder = await paidOrder(event, refunded, 2500);
    await publish(
      newEvent(orderStatusChanged, refundedOrder, 3, {
        orderId: refundedOrder,
        eventId: event.eventId,
        organizationId: event.organizationId,
        from: 'PAID',
        status: 'REFUNDED',
      }),
    );
    await waitFor(async () => {
      const [row] = await subgraph.sql`
        select 1 from messaging.order_book where id = ${refundedOrder} and released_at is not null`;
      return row !== undefined;
    });

    const rescheduled = newEvent(eventRescheduled, event.eventId, 2, {
      ...scheduleOf(after),
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      previous: scheduleOf(before),
    });
    await publishRedelivered(rescheduled, 'event-rescheduled-holders');

    // In the event's zone (CET): 19:00 before, 20:30 after, in Bosnian.
    const mail = await mailOf(rescheduled.id, holder.email);
    const text = mail.parsed.text ?? '';
    expect(text).toContain('19:00');
    expect(text).toContain('20:30');
    expect(text).toContain('Dom mladih, Sarajevo');
    expect(text).toContain('Zetra, Sarajevo');
    expect(mail.parsed.html).toContain('Sarajevo &lt;Jazz&gt; Night');
    expect((await deliveriesOf(rescheduled.id)).filter((row) => row.channel === 'EMAIL')).toEqual([
      expect.objectContaining({ locale: 'bs', recipient_id: holder.userId }),
    ]);
    const inApp = await inAppOf(holder.userId, 'eventRescheduled');
    expect(inApp).toHaveLength(1);
    expect(inApp[0]!.source_event_id).toBe(rescheduled.id);

    expect(await inAppOf(refunded.userId, 'eventRescheduled')).toEqual([]);
    expect(await mailsOf(rescheduled.id, refunded.email)).toEqual([]);
    // The redelivery enqueued nothing more and sent no second mail.
    await waitFor(async () => (await deliveriesOf(rescheduled.id)).every((row) => row.status !== 'QUEUED'));
    expect(await mailsOf(rescheduled.id, holder.email)).toHaveLength(1);
  });

  it('tells nobody when only the end moved: start and place are what holders know', async () => {
    const same = {
      startsAt: '2031-03-15T18:00:00.000Z',
      timezone: SARAJEVO,
      venue: venue('Zetra', 'Sarajevo'),
    };
    const event = await publishedEvent(same);
    const holder = await newBuyer('Unbothered Holder');
    await paidOrder(event, holder, 1000);
    const longer = newEvent(eventRescheduled, event.eventId, 2, {
      ...scheduleOf(same),
      endsAt: '2031-03-16T02:00:00.000Z',
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      previous: scheduleOf(same),
    });
    await publish(longer);
    await caughtUp('event-rescheduled-holders');
    expect(await deliveriesOf(longer.id)).toEqual([]);
    expect(await inAppOf(holder.userId, 'eventRescheduled')).toEqual([]);
  });

  it('tells each holder of a cancelled event what they get back (nothing to wait for when free), even one its refund released first', async () => {
    const event = await publishedEvent({
      startsAt: '2031-04-01T18:00:00.000Z',
      timezone: SARAJEVO,
      venue: venue('Zetra', 'Sarajevo'),
    });
    const payer = await newBuyer('Paying Holder');
    const guest = { userId: null, email: `${uuidv7()}@example.test`, name: 'Guest Holder' };
    const free = await newBuyer('Free Holder');
    const payerOrder = await paidOrder(event, payer, 4250);
    await paidOrder(event, guest, 1500);
    await paidOrder(event, free, 0);

    const cancelled = newEvent(eventCancelled, event.eventId, 2, {
      eventId: event.eventId,
      organizationId: event.organizationId,
      title: event.title,
      reason: 'The band is ill',
      ticketsSold: 3,
    });
    // Orders' refund of the payer's order, caused by the cancellation, reaches the book first:
    // released after the cancellation, the payer is still told.
    await publish(
      newEvent(orderStatusChanged, payerOrder, 3, {
        orderId: payerOrder,
        eventId: event.eventId,
        organizationId: event.organizationId,
        from: 'PAID',
        status: 'REFUNDED',
      }),
    );
    await waitFor(async () => {
      const [row] = await subgraph.sql`
        select 1 from messaging.order_book where id = ${payerOrder} and released_at is not null`;
      return row !== undefined;
    });
    await publish(cancelled);
    await caughtUp('event-cancelled-holders');

    const [payerMail, guestMail, freeMail] = await Promise.all([
      mailOf(cancelled.id, payer.email),
      mailOf(cancelled.id, guest.email),
      mailOf(cancelled.id, free.email),
    ]);
    expect(payerMail.parsed.text).toContain('The band is ill');
    expect(payerMail.parsed.text).toContain('42.50');
    expect(guestMail.parsed.text).toContain('15.00');
    expect(freeMail.parsed.text).not.toContain('BAM');
    // Guests have no inbox: email only; account holders also get it in-app.
    expect((await deliveriesOf(cancelled.id)).find((row) => row.recipient_id === null)).toMatchObject({
      channel: 'EMAIL',
    });
    expect(await inAppOf(payer.userId, 'eventCancelled')).toHaveLength(1);
    expect((await scheduleRow(event.eventId))?.cancelled_at).not.toBeNull();
  });
});

describe('the reminder sweep', () => {
  it('publishes one reminder per event and start, even from two sweeps at once, and again after a reschedule', async () => {
    const soon = new Date(Date.now() + 3 * HOUR);
    const event = await publishedEvent({ startsAt: soon.toISOString(), timezone: SARAJEVO, venue: null });
    const later = await publishedEvent({
      startsAt: new Date(Date.now() + 30 * HOUR).toISOString(),
      timezone: SARAJEVO,
      venue: null,
    });
    const holder = await newBuyer('Reminded Holder');
    await paidOrder(event, holder, 1000);

    const reminders = async (eventId: string) =>
      (
        await subgraph.sql<Array<{ starts_at: string }>>`
          select payload->>'startsAt' as starts_at from messaging.outbox
          where type = ${eventReminderDue.type} and aggregate_id = ${eventId} order by sequence`
      ).map((row) => row.starts_at);

    await Promise.all([sweep(), sweep()]);
    expect(await reminders(event.eventId)).toEqual([soon.toISOString()]);
    expect(await reminders(later.eventId)).toEqual([]);
    expect((await scheduleRow(event.eventId))?.reminded_for).toEqual(soon);
    await sweep();
    expect(await reminders(event.eventId)).toHaveLength(1);

    const [first] = await waitFor(async () => {
      const rows = await inAppOf(holder.userId, 'eventReminder');
      return rows.length === 1 && rows;
    });
    const mail = await mailOf(first!.source_event_id, holder.email);
    expect(mail.parsed.html).toContain('Sarajevo &lt;Jazz&gt; Night');

    const moved = new Date(soon.getTime() + 2 * HOUR);
    await publish(
      newEvent(eventRescheduled, event.eventId, 2, {
        ...scheduleOf({ startsAt: moved.toISOString(), timezone: SARAJEVO, venue: null }),
        eventId: event.eventId,
        organizationId: event.organizationId,
        title: event.title,
        previous: scheduleOf({ startsAt: soon.toISOString(), timezone: SARAJEVO, venue: null }),
      }),
    );
    await waitFor(async () => (await scheduleRow(event.eventId))?.starts_at.getTime() === moved.getTime());
    await sweep();
    expect(await reminders(event.eventId)).toEqual([soon.toISOString(), moved.toISOString()]);
    await waitFor(async () => (await inAppOf(holder.userId, 'eventReminder')).length === 2);
  });

  it('reminds nobody of a cancelled event, nor of a start that has moved since the reminder was due', async () => {
    const start = new Date(Date.now() + 2 * HOUR);
    const event = await publishedEvent({ startsAt: start.toISOString(), timezone: SARAJEVO, venue: null });
    const holder = await newBuyer('Stale Reminder Holder');
    await paidOrder(event, holder, 1000);
    // A reminder for a start the event no longer has.
    const stale = newEvent(eventReminderDue, event.eventId, 1, {
      eventId: event.eventId,
      organizationId: event.organizationId,
      startsAt: new Date(start.getTime() - HOUR).toISOString(),
    });
    await publish(stale);
    await caughtUp('event-reminder-holders');
    expect(await deliveriesOf(stale.id)).toEqual([]);
    expect(await inAppOf(holder.userId, 'eventReminder')).toEqual([]);

    await publish(
      newEvent(eventCancelled, event.eventId, 2, {
        eventId: event.eventId,
        organizationId: event.organizationId,
        title: event.title,
        reason: null,
        ticketsSold: 1,
      }),
    );
    await waitFor(async () => (await scheduleRow(event.eventId))?.cancelled_at != null);
    await sweep();
    expect((await scheduleRow(event.eventId))?.reminded_for).toBeNull();
  });
});
