/**
 * Usage metering per organization (issue 19, R10.5): tickets sold, emails, stored bytes and API-key
 * calls metered into each subgraph's hourly rollups; `usageReport` federated over them with an
 * estimated cost; only the OWNER and platform admins read it; a usage jump reaches the admins.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paymentSucceeded } from '@bilten/contracts/billing';
import { gatewayUsageRecorded } from '@bilten/contracts/gateway';
import { usageJumped } from '@bilten/contracts/identity';
import {
  announceUsageJumps,
  createOutbox,
  eventTables,
  hourOf,
  newEvent,
  recordUsage,
  usageTables,
} from '@bilten/platform';
import { freePort, graphql, refreshAccess, waitFor } from '@bilten/testkit';
import { pgSchema } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
let storageDir: string;
const month = new Date().toISOString().slice(0, 7);

beforeAll(async () => {
  storageDir = await mkdtemp(join(tmpdir(), 'bilten-usage-'));
  // The order mail carries the tickets' PDFs, fetched from the gateway's public URL.
  const gatewayPort = await freePort();
  stack = await startTestStack('jetstream', {
    gatewayPort,
    env: {
      PUBLIC_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
      ASSET_STORAGE_DIR: storageDir,
      // The jump watch looks often; identity's floor is low so a seeded hour trips it.
      USAGE_JUMP_CHECK_MS: '200',
      USAGE_JUMP_FLOOR: '50',
      USAGE_PRICE_SHEET: JSON.stringify({
        currency: 'EUR',
        unitPrices: { tickets_sold: 50, emails: 2, api_calls: 1, graphql_cost: 0.5, storage_bytes: 0.001 },
      }),
    },
  });
});

afterAll(async () => {
  await stack?.dispose();
  await rm(storageDir, { recursive: true, force: true });
});

type Headers = Record<string, string>;

const REPORT = `query($organizationId: ID!, $month: String!) {
  usageReport(organizationId: $organizationId, month: $month) {
    organizationId month apiCalls graphqlCost ticketsSold emails sms pushes webhookDeliveries storageBytes
    estimatedCost { amount currency }
    lines { metric quantity unitPrice amount { amount currency } }
  }
}`;

interface Report {
  apiCalls: number;
  graphqlCost: number;
  ticketsSold: number;
  emails: number;
  sms: number;
  pushes: number;
  webhookDeliveries: number;
  storageBytes: number;
  estimatedCost: { amount: number; currency: string };
  lines: Array<{ metric: string; quantity: number; unitPrice: number; amount: { amount: number } }>;
}

async function report(organizationId: string, headers: Headers, reportMonth = month) {
  const { body } = await graphql<{ usageReport: Report | null }, unknown>(
    stack.url,
    REPORT,
    { organizationId, month: reportMonth },
    headers,
  );
  return {
    report: body.data?.usageReport ?? null,
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
  };
}

/** A paid order of `quantity` tickets: reserve, check out, and billing's success as its outbox publishes it. */
async function buyTickets(eventId: string, ticketTypeId: string, quantity: number) {
  const buyer = await stack.signUp({ displayName: 'Usage Buyer' });
  const reservation = await waitFor(async () => {
    const { reserveTickets } = await gatewayCall<{ reserveTickets: { reservation: { id: string } | null } }>(
      stack,
      'mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }',
      { input: { eventId, items: [{ ticketTypeId, quantity }] } },
      buyer.headers,
    );
    return reserveTickets.reservation;
  });
  const { checkout } = await gatewayCall<{
    checkout: { order: { id: string; total: { amount: number; currency: string } } };
  }>(
    stack,
    'mutation($input: CheckoutInput!) { checkout(input: $input) { order { id total { amount currency } } } }',
    {
      input: {
        reservationId: reservation.id,
        buyer: { name: 'Usage Buyer', email: buyer.email },
        attendees: Array.from({ length: quantity }, (_, i) => ({ name: `Guest ${i}` })),
      },
    },
    buyer.headers,
  );
  const paymentId = randomUUID();
  await stack.bus.publish(
    newEvent(paymentSucceeded, paymentId, 1, {
      paymentId,
      orderId: checkout.order.id,
      amount: checkout.order.total,
    }),
  );
}

async function member(organizationId: string, role: 'ADMIN' | 'STAFF') {
  const user = await stack.signUp();
  await stack.sql`insert into identity.organization_members (organization_id, user_id, role)
    values (${organizationId}, ${user.userId}, ${role})`;
  return refreshAccess(stack.url, user);
}

describe('usage metering and usageReport', () => {
  it('meters tickets, emails, storage and API-key calls, and prices them for the OWNER', async () => {
    const { organizationId, owner, eventId, ticketTypeId } = await publishedEvent(stack, 'usage-metered');
    await buyTickets(eventId, ticketTypeId, 3);

    const image = await sharp({ create: { width: 200, height: 80, channels: 4, background: '#208040' } })
      .png()
      .toBuffer();
    const form = new FormData();
    form.set('organizationId', organizationId);
    form.set('kind', 'LOGO');
    form.set('file', new Blob([image], { type: 'image/png' }), 'logo.png');
    const uploaded = await fetch(new URL('/assets', stack.url), {
      method: 'POST',
      body: form,
      headers: owner.headers,
    });
    expect(uploaded.status).toBe(201);
    const [{ stored }] = await stack.sql<[{ stored: number }]>`
      select coalesce(sum((v->>'byteSize')::bigint), 0)::int as stored
      from branding.assets, jsonb_array_elements(variants) v where organization_id = ${organizationId}`;
    expect(stored).toBeGreaterThan(0);

    // Calls with the organization's API key, counted by the gateway and flushed to identity.
    const { createApiKey } = await gatewayCall<{ createApiKey: { secret: string } }>(
      stack,
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { organizationId, name: 'usage key', scopes: ['events:read'], mode: 'LIVE' } },
      owner.headers,
    );
    const keyHeaders = { authorization: `Bearer ${createApiKey.secret}` };
    for (let i = 0; i < 3; i += 1) {
      await gatewayCall(
        stack,
        'query($id: ID!) { event(id: $id) { id title } }',
        { id: eventId },
        keyHeaders,
      );
    }
    await stack.gateway.flushUsage();

    const metered = await waitFor(async () => {
      const { report: current } = await report(organizationId, owner.headers);
      return current && current.ticketsSold === 3 && current.emails >= 1 && current.apiCalls === 3 && current;
    }, 40_000);
    // Each answer held `event { id title }`: 1 for the object, 1 per field.
    expect(metered.graphqlCost).toBe(9);
    expect(metered.storageBytes).toBe(stored);
    expect(metered).toMatchObject({ sms: 0, pushes: 0, webhookDeliveries: 0 });
    const expected = 3 * 50 + metered.emails * 2 + 3 * 1 + Math.round(9 * 0.5) + Math.round(stored * 0.001);
    expect(metered.estimatedCost).toEqual({ amount: expected, currency: 'EUR' });
    expect(metered.lines.find((line) => line.metric === 'TICKETS_SOLD')).toMatchObject({
      quantity: 3,
      unitPrice: 50,
      amount: { amount: 150 },
    });
    expect(metered.lines.find((line) => line.metric === 'SMS')).toMatchObject({ unitPrice: 0 });

    // Another month has none of it; storage is a gauge, so a later month still holds the bytes.
    const { report: before } = await report(organizationId, owner.headers, '2020-01');
    expect(before).toMatchObject({ ticketsSold: 0, apiCalls: 0, storageBytes: 0 });
    const { report: later } = await report(organizationId, owner.headers, '2099-12');
    expect(later).toMatchObject({ ticketsSold: 0, storageBytes: stored });

    // Who may read it: the OWNER and platform admins only; a bad month is the caller's error.
    const admin = await stack.signUpAdmin();
    expect((await report(organizationId, admin.headers)).report?.ticketsSold).toBe(3);
    for (const headers of [
      (await member(organizationId, 'ADMIN')).headers,
      (await member(organizationId, 'STAFF')).headers,
      (await stack.organizationOwner('usage-other')).owner.headers,
      keyHeaders,
    ]) {
      const refused = await report(organizationId, headers);
      expect(refused.report).toBeNull();
      expect(refused.codes).toContain('FORBIDDEN');
    }
    for (const bad of ['2026-13', '26-01', 'May']) {
      expect((await report(organizationId, owner.headers, bad)).codes).toContain('BAD_USER_INPUT');
    }
  }, 60_000);

  it('meters a redelivered gateway flush once', async () => {
    const { organizationId, owner } = await stack.organizationOwner('usage-replay');
    const hour = hourOf(new Date()).toISOString();
    const flush = newEvent(gatewayUsageRecorded, organizationId, 1, {
      organizationId,
      hour,
      apiCalls: 7,
      graphqlCost: 70,
    });
    await stack.bus.publish(flush);
    await stack.bus.publish(flush);
    await stack.bus.publish(
      newEvent(gatewayUsageRecorded, organizationId, 2, {
        organizationId,
        hour,
        apiCalls: 1,
        graphqlCost: 1,
      }),
    );
    const metered = await waitFor(async () => {
      const { report: current } = await report(organizationId, owner.headers);
      return current?.apiCalls === 8 && current;
    });
    expect(metered.graphqlCost).toBe(71);
  });

  it('meters nothing for a rolled-back write', async () => {
    const client = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const db = drizzle(client);
      const tables = usageTables(pgSchema('orders'));
      const organizationId = randomUUID();
      await expect(
        db.transaction(async (tx) => {
          await recordUsage(tx, tables, { organizationId, metric: 'tickets_sold', quantity: 4 });
          throw new Error('the sale failed');
        }),
      ).rejects.toThrow('the sale failed');
      await db.transaction((tx) =>
        recordUsage(tx, tables, { organizationId, metric: 'tickets_sold', quantity: 2 }),
      );
      const rows =
        await client`select quantity::int from orders.usage_hourly where organization_id = ${organizationId}`;
      expect(rows).toEqual([{ quantity: 2 }]);
    } finally {
      await client.end();
    }
  });

  it('announces a usage jump once and the platform admins see it in-app', async () => {
    const admin = await stack.signUpAdmin();
    const { organizationId } = await stack.organizationOwner('usage-jump');
    // The last complete hour far above its (empty) trailing mean, as the gateway's flushes would leave it.
    const lastHour = new Date(hourOf(new Date()).getTime() - 3_600_000);
    await stack.sql`insert into identity.usage_hourly (organization_id, metric, hour, quantity)
      values (${organizationId}, 'api_calls', ${lastHour}, 5000)`;

    const NOTIFICATIONS = `query { me { id notifications(first: 20) { edges { node { kind subject body } } } } }`;
    type Inbox = { me: { notifications: { edges: Array<{ node: { kind: string; body: string } }> } } };
    const alert = await waitFor(async () => {
      const { me } = await gatewayCall<Inbox>(stack, NOTIFICATIONS, {}, admin.headers);
      return me.notifications.edges.find(
        ({ node }) => node.kind === 'USAGE_JUMP' && node.body.includes(organizationId),
      )?.node;
    }, 20_000);
    expect(alert.body).toContain('5000');

    // Already announced: another pass (any replica's) publishes nothing for that hour.
    const client = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const identity = pgSchema('identity');
      const again = await announceUsageJumps(
        drizzle(client),
        usageTables(identity),
        createOutbox(eventTables(identity), 'identity'),
        usageJumped,
        { factor: 5, floor: 50 },
      );
      expect(again.filter((jump) => jump.organizationId === organizationId)).toEqual([]);
      const [{ published }] = await client<[{ published: number }]>`
        select count(*)::int as published from identity.outbox
        where type = ${usageJumped.type} and payload->>'organizationId' = ${organizationId}`;
      expect(published).toBe(1);
    } finally {
      await client.end();
    }
  });
});
