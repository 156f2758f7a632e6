/** What the messaging test files share: how far messaging's durable consumers got on the test stream. */
import { organizationCreated } from '@bilten/contracts/identity';
import { columnAad, connectDatabase, newEvent } from '@bilten/platform';
import { type TestSubgraph, waitFor } from '@bilten/testkit';
import type { JetStreamManager } from '@nats-io/jetstream';
import { v7 as uuidv7 } from 'uuid';
import { messagingKeysFromEnv, openFor } from '../src/db/person-keys.ts';
import { NOTIFICATION_COLUMNS } from '../src/db/schema.ts';

const consumerInfo = (jsm: JetStreamManager, subgraph: TestSubgraph, consumer: string) =>
  jsm.consumers.info(subgraph.testBus.stream!, `messaging-${consumer}`);

/** Resolves once the durable consumer has nothing pending or unacknowledged. */
export const consumerCaughtUp = (
  jsm: JetStreamManager,
  subgraph: TestSubgraph,
  consumer: string,
  timeoutMs?: number,
) =>
  waitFor(async () => {
    const info = await consumerInfo(jsm, subgraph, consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, timeoutMs);

/** Deliveries the durable consumer has made so far, redeliveries included. */
export const consumerDeliveries = async (jsm: JetStreamManager, subgraph: TestSubgraph, consumer: string) =>
  (await consumerInfo(jsm, subgraph, consumer)).delivered.consumer_seq;

/** A new organization, created the way identity announces it; resolves once messaging knows it (it can be followed). */
export async function knownOrganization(
  jsm: JetStreamManager,
  subgraph: TestSubgraph,
  name = 'Kino Meeting Point',
) {
  const organizationId = uuidv7();
  await subgraph.testBus.bus.publish(
    newEvent(organizationCreated, organizationId, 1, {
      organizationId,
      name,
      slug: `org-${organizationId.slice(-12)}`,
      testMode: false,
    }),
  );
  await consumerCaughtUp(jsm, subgraph, 'organization-names-created');
  return organizationId;
}

/**
 * Messaging's per-person keys over a test database, as the subgraph under test builds them (the
 * development KEK and blind index), on a connection of their own: `close` it after.
 */
export function testPersonKeys(url: string) {
  const handle = connectDatabase({ url, applicationName: 'person-keys-test' });
  return {
    db: handle.db,
    keys: messagingKeysFromEnv(handle.db, { NODE_ENV: 'test' }),
    close: () => handle.close(),
  };
}

type SealedTexts = { id: string; recipient_id: string; subject_sealed: string; body_sealed: string };

/** Raw `messaging.notifications` rows with their texts opened as `subject` and `body` (null: erased). */
export async function openedTexts<Row extends SealedTexts>(url: string, rows: Row[]) {
  const { db, keys, close } = testPersonKeys(url);
  const open = (row: SealedTexts, column: keyof typeof NOTIFICATION_COLUMNS) =>
    openFor(
      db,
      keys,
      { userId: row.recipient_id },
      row[`${column}_sealed`],
      columnAad(NOTIFICATION_COLUMNS[column], row.id),
    );
  try {
    return await Promise.all(
      rows.map(async ({ subject_sealed, body_sealed, ...row }) => ({
        ...row,
        subject: await open({ ...row, subject_sealed, body_sealed }, 'subject'),
        body: await open({ ...row, subject_sealed, body_sealed }, 'body'),
      })),
    );
  } finally {
    await close();
  }
}
