import { randomUUID } from 'node:crypto';
import { personalDataErased, personalDataExported } from '@bilten/contracts/billing';
import { dataExportRequested } from '@bilten/contracts/identity';
import { orderCreated } from '@bilten/contracts/orders';
import type { People } from '@bilten/platform';
import {
  connectDatabase,
  createExportKeyPair,
  type DatabaseHandle,
  ERASED_EMAIL,
  ERASED_NAME,
  newEvent,
  openExportPart,
  PersonDataErasedError,
  parseEnv,
} from '@bilten/platform';
import {
  captureLogs,
  personalDataLeftIn,
  privacyRequests,
  startTestSubgraph,
  type TestSubgraph,
  waitFor,
} from '@bilten/testkit';
import { pdfText } from '@bilten/testkit/pdf';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingEnv } from '../src/config.ts';
import { openBuyer } from '../src/db/buyers.ts';
import { billingBuyerKeys, billingSubgraph } from '../src/server.ts';
import {
  type AnnouncedOrder,
  announceOrder,
  announceOrganization,
  orderContents,
  orderTerms,
  payAnnouncedOrder,
} from './support.ts';

// Buyers' names and addresses sealed per person (issue 18): under the user's key, or a guest's by
// the blind index of the address; erasure destroys those keys, the financial record stays.

let subgraph: TestSubgraph;
let privacy: Awaited<ReturnType<typeof privacyRequests>>;
let database: DatabaseHandle;
let keys: People;
let organizationId: string;

beforeAll(async () => {
  subgraph = await startTestSubgraph(billingSubgraph, 'jetstream');
  privacy = await privacyRequests(subgraph.testBus.bus, {
    exported: personalDataExported,
    erased: personalDataErased,
  });
  database = connectDatabase({
    url: subgraph.database.url,
    poolSize: 2,
    applicationName: 'person-keys-test',
  });
  // The development keys, as the subgraph has them outside production.
  keys = billingBuyerKeys({ NODE_ENV: 'test' }, database.db);
  organizationId = await announceOrganization(subgraph, { name: 'Sevdah Key Hall' });
});

afterAll(async () => {
  await database?.close();
  await subgraph?.dispose();
});

interface Person {
  email: string;
  name: string;
}

const someone = (): Person => {
  const id = uuidv7().slice(-12);
  return { email: `buyer.${id}@example.com`, name: `Buyer ${id}` };
};

/** An order of `person` (a guest with `guest`), paid; with its receipt's id. */
async function paidOrder(person: Person, guest = false): Promise<AnnouncedOrder & { receiptId: string }> {
  const order = await announceOrder(subgraph, {
    organizationId,
    buyerEmail: person.email,
    contents: { ...orderContents(4200), buyerName: person.name },
    guest,
  });
  expect((await payAnnouncedOrder(subgraph, order)).status).toBe('SUCCEEDED');
  const [receipt] = await waitFor(async () => {
    const rows = await subgraph.sql<Array<{ id: string }>>`
      select id from billing.receipts where order_id = ${order.orderId} and kind = 'RECEIPT'`;
    return rows.length > 0 && rows;
  });
  return { ...order, receiptId: receipt!.id };
}

interface BuyerColumns {
  buyer_name_sealed: string;
  buyer_email_sealed: string;
  buyer_email_index: string | null;
}

const chargeColumns = async (orderId: string) =>
  (
    await subgraph.sql<BuyerColumns[]>`
      select buyer_name_sealed, buyer_email_sealed, buyer_email_index from billing.order_charges where order_id = ${orderId}`
  )[0]!;

const receiptColumns = async (id: string) =>
  (
    await subgraph.sql<Array<BuyerColumns & { buyer_id: string | null; total: number }>>`
      select buyer_id, buyer_name_sealed, buyer_email_sealed, buyer_email_index, total from billing.receipts where id = ${id}`
  )[0]!;

async function receiptBuyer(id: string, headers: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ receipt: { buyer: { name: string; email: string } } | null }>(
    'query($id: ID!) { receipt(id: $id) { buyer { name email } total { amount } } }',
    { id },
    headers,
  );
  expect(errors).toBeUndefined();
  return data!.receipt!.buyer;
}

const admin = () => subgraph.bearer({ sub: uuidv7(), roles: ['ADMIN'] });

describe('buyers sealed per person', () => {
  it('stores no plaintext buyer name or address; readers get them back', async () => {
    const ada = someone();
    const guest = someone();
    const hers = await paidOrder(ada);
    const theirs = await paidOrder(guest, true);

    for (const [person, order] of [
      [ada, hers],
      [guest, theirs],
    ] as const) {
      for (const row of [await chargeColumns(order.orderId), await receiptColumns(order.receiptId)]) {
        expect(row.buyer_name_sealed).toMatch(/^p1\./);
        expect(row.buyer_email_sealed).toMatch(/^p1\./);
        expect(row.buyer_email_index).toBe(keys.users.index(person.email, 'email'));
      }
      expect(await receiptBuyer(order.receiptId, await admin())).toEqual({
        name: person.name,
        email: person.email,
      });
    }
    expect((await receiptColumns(hers.receiptId)).buyer_id).toBe(hers.buyerId);
    expect(await personalDataLeftIn(subgraph.sql, ['billing'], [ada.name, guest.name])).toEqual([]);
  });

  it('setup seals rows written in plaintext before per-person keys; they read back', async () => {
    const old = someone();
    const order = await paidOrder(old, true);
    // As the migration left them: plaintext in the renamed columns, no index.
    await subgraph.sql`update billing.order_charges set buyer_name_sealed = ${old.name}, buyer_email_sealed = ${old.email}, buyer_email_index = null where order_id = ${order.orderId}`;
    await subgraph.sql`update billing.receipts set buyer_name_sealed = ${old.name}, buyer_email_sealed = ${old.email}, buyer_email_index = null where id = ${order.receiptId}`;
    const inserted = uuidv7();
    const buyerId = uuidv7();
    await subgraph.sql`
      insert into billing.order_charges (order_id, event_id, organization_id, buyer_id, buyer_email_sealed, buyer_name_sealed,
        amount, currency, expires_at, refund_policy, event_starts_at)
      values (${inserted}, ${uuidv7()}, ${organizationId}, ${buyerId}, 'raw@example.com', 'Raw Buyer',
        100, 'EUR', now() + interval '1 hour', ${subgraph.sql.json(orderTerms().refundPolicy)}, now() + interval '1 day')`;

    await billingSubgraph.setup!({
      config: parseEnv(billingEnv, {}),
      db: database.db,
      log: captureLogs('person-keys-setup').log,
      auth: { issuer: 'bilten', audience: 'bilten' },
    });

    const raw = await chargeColumns(inserted);
    expect(raw.buyer_email_sealed).toMatch(/^p1\./);
    expect(raw.buyer_email_index).toBe(keys.users.index('raw@example.com', 'email'));
    expect(
      await openBuyer(database.db, keys, 'order_charges', inserted, { ...sealedOf(raw), buyerId }),
    ).toEqual({
      buyerName: 'Raw Buyer',
      buyerEmail: 'raw@example.com',
    });
    expect((await receiptColumns(order.receiptId)).buyer_name_sealed).toMatch(/^p1\./);
    expect(await receiptBuyer(order.receiptId, await admin())).toEqual({ name: old.name, email: old.email });
    expect(await personalDataLeftIn(subgraph.sql, ['billing'], [old.name, 'Raw Buyer'])).toEqual([]);
  });

  it("exports the user's orders and, with a verified address, its guest orders, decrypted", async () => {
    const ada = someone();
    const hers = await paidOrder(ada);
    const asGuest = await paidOrder({ ...ada, name: `${ada.name} (guest)` }, true);
    const requestId = randomUUID();
    const { publicKey, privateKey } = createExportKeyPair();
    await subgraph.testBus.bus.publish(
      newEvent(dataExportRequested, requestId, 1, {
        requestId,
        userId: hers.buyerId!,
        publicKey,
        verifiedEmail: ada.email.toUpperCase(),
      }),
    );
    const answer = await waitFor(async () =>
      privacy.exported.find((event) => event.payload.requestId === requestId),
    );
    const part = openExportPart(privateKey, answer.payload.sealedPart) as {
      orders: Array<{ orderId: string; buyerName: string; buyerEmail: string }>;
      receipts: Array<{ id: string; buyerName: string }>;
    };
    expect(part.orders).toEqual([
      expect.objectContaining({ orderId: hers.orderId, buyerName: ada.name, buyerEmail: ada.email }),
      expect.objectContaining({ orderId: asGuest.orderId, buyerName: `${ada.name} (guest)` }),
    ]);
    expect(part.receipts.map((receipt) => receipt.id)).toEqual([hers.receiptId, asGuest.receiptId]);
  });

  it('erasure destroys her keys: amounts stay, buyer fields read as erased, a copy from before reads nothing', async () => {
    const ada = someone();
    const hers = await paidOrder(ada);
    const asGuest = await paidOrder(ada, true);
    const before = await receiptColumns(hers.receiptId);
    const beforeGuest = await receiptColumns(asGuest.receiptId);

    const summary = await privacy.erase(privacy.erasureRequest({ userId: hers.buyerId!, email: ada.email }));
    expect(summary).toMatchObject({ 'person_keys.destroyed': 2, 'receipts.anonymized': 2 });

    const guestPerson = keys.users.index(ada.email, 'email');
    const keyRows = await subgraph.sql`
      select wrapped_key, destroyed_at is not null as destroyed from billing.person_keys
      where person_id in ${subgraph.sql([hers.buyerId!, guestPerson])}`;
    expect(keyRows).toEqual([
      { wrapped_key: null, destroyed: true },
      { wrapped_key: null, destroyed: true },
    ]);
    // The financial record stays, made out to no one.
    expect(await receiptColumns(hers.receiptId)).toMatchObject({
      total: 4200,
      buyer_name_sealed: ERASED_NAME,
      buyer_email_sealed: ERASED_EMAIL,
      buyer_email_index: null,
    });
    // A copy from before (a backup) no longer opens.
    await expect(
      keys.users.vault.decryptFor(database.db, hers.buyerId!, before.buyer_name_sealed, 'any'),
    ).rejects.toBeInstanceOf(PersonDataErasedError);
    // Restored into the row, it reads as erased, never an error.
    await subgraph.sql`update billing.receipts set buyer_name_sealed = ${before.buyer_name_sealed},
      buyer_email_sealed = ${before.buyer_email_sealed}, buyer_email_index = ${before.buyer_email_index} where id = ${hers.receiptId}`;
    await subgraph.sql`update billing.receipts set buyer_name_sealed = ${beforeGuest.buyer_name_sealed},
      buyer_email_sealed = ${beforeGuest.buyer_email_sealed}, buyer_email_index = ${beforeGuest.buyer_email_index} where id = ${asGuest.receiptId}`;
    for (const id of [hers.receiptId, asGuest.receiptId])
      expect(await receiptBuyer(id, await admin())).toEqual({ name: ERASED_NAME, email: ERASED_EMAIL });

    // Her receipt's PDF still prints, without her name.
    const response = await fetch(new URL(`/receipts/${hers.receiptId}.pdf`, subgraph.service.url), {
      headers: await admin(),
    });
    expect(response.status).toBe(200);
    const text = (await pdfText(Buffer.from(await response.arrayBuffer()))).join('\n');
    expect(text).toContain(ERASED_NAME);
    expect(text).toContain('42.00');
    expect(text).not.toContain(ada.name);
  });

  it('an order announced after its buyer was erased is kept with the markers; the consumer goes on', async () => {
    const late = someone();
    const userId = uuidv7();
    await privacy.erase(privacy.erasureRequest({ userId, email: late.email }));
    const orderId = uuidv7();
    await subgraph.testBus.bus.publish(
      newEvent(orderCreated, orderId, 1, {
        orderId,
        eventId: uuidv7(),
        organizationId,
        buyerId: userId,
        guestTokenHash: null,
        ...orderTerms(),
        buyerEmail: late.email,
        ...orderContents(4200),
        buyerName: late.name,
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      }),
    );
    const row = await waitFor(async () => {
      const rows = await subgraph.sql<BuyerColumns[]>`
        select buyer_name_sealed, buyer_email_sealed, buyer_email_index from billing.order_charges where order_id = ${orderId}`;
      return rows[0];
    });
    expect(row).toEqual({
      buyer_name_sealed: ERASED_NAME,
      buyer_email_sealed: ERASED_EMAIL,
      buyer_email_index: null,
    });
    // A guest who was erased may buy again: a fresh key.
    const back = await paidOrder(late, true);
    expect(await receiptBuyer(back.receiptId, await admin())).toEqual({ name: late.name, email: late.email });
  });
});

const sealedOf = (row: BuyerColumns) => ({
  buyerNameSealed: row.buyer_name_sealed,
  buyerEmailSealed: row.buyer_email_sealed,
  buyerEmailIndex: row.buyer_email_index,
});
