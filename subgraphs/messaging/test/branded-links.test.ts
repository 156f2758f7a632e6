import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BrandedContext, brandKitChanged } from '@bilten/contracts/branding';
import { orderPaid } from '@bilten/contracts/orders';
import {
  applyMigrations,
  connectDatabase,
  type DatabaseHandle,
  defaultBrandedContext,
  keyRingFromEnv,
  newEvent,
} from '@bilten/platform';
import {
  captureLogs,
  createTestDatabase,
  type ReceivedMail,
  startTestSmtpServer,
  startTestSubgraph,
  TEST_NATS_URL,
  type TestDatabase,
  type TestSmtpServer,
  type TestSubgraph,
  testLinkTokens,
  waitFor,
} from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eq } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { createEmailSender } from '../src/adapters/mailer.ts';
import { createRenderer } from '../src/adapters/renderer.ts';
import { createUnsubscribeLinks } from '../src/adapters/unsubscribe-links.ts';
import { type MessagingKeys, messagingKeysFromEnv } from '../src/db/person-keys.ts';
import { deliveries } from '../src/db/schema.ts';
import { brandFromContext, brandKitConsumer } from '../src/domain/brand-kits.ts';
import type { DataOf } from '../src/domain/channels.ts';
import { enqueueDeliveries } from '../src/domain/deliveries.ts';
import { renderShortOf, smsTextOf } from '../src/domain/delivery-rendering.ts';
import { startDeliveryWorker } from '../src/domain/delivery-worker.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp } from './support.ts';

// Issue 17: an organization's mails and pushes link to its ACTIVE custom domain when it has one
// (else to the platform), and render with the brand current when they are sent.

const DOMAIN = 'tickets.example-org.test';
const sha = (c: string) => c.repeat(64);

/** The gateway's ticket PDFs, which order mails attach (fetched from the gateway, whatever the links say). */
let files: Server;
let GATEWAY: string;
let smtp: TestSmtpServer;
let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  files = createServer((request, response) => {
    if (/^\/tickets\/[^/]+\.pdf\?token=/.test(request.url ?? ''))
      response.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.4 test');
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  GATEWAY = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream', {
    env: { SMTP_URL: smtp.url, PUBLIC_GATEWAY_URL: `${GATEWAY}/` },
    consumers: { maxDeliveries: 2 },
  });
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
  await smtp?.stop();
  await new Promise((resolve) => files?.close(resolve));
});

let clock = Date.parse('2027-03-01T00:00:00.000Z');
/** A context as branding publishes it, each one later than the one before. */
function contextOf(organizationId: string, changes: Partial<BrandedContext>): BrandedContext {
  clock += 1000;
  return {
    ...defaultBrandedContext(organizationId),
    logoUrl: `https://assets.bilten.test/assets/${sha('a')}`,
    ...changes,
    changedAt: new Date(clock).toISOString(),
  };
}

async function announce(context: BrandedContext) {
  await subgraph.testBus.bus.publish(
    newEvent(brandKitChanged, context.organizationId, context.version, context),
  );
  await consumerCaughtUp(jsm, subgraph, 'brand-kits');
}

const newToken = () => `t+${uuidv7()}/=`;

/** Pays an order of two tickets of `organizationId`; resolves with the mail and the tickets' paths and tokens. */
async function orderMail(organizationId: string) {
  const buyerEmail = `${uuidv7()}@example.test`;
  const tickets = [uuidv7(), uuidv7()].map((ticketId) => ({ ticketId, token: newToken() }));
  const orderId = uuidv7();
  await subgraph.testBus.bus.publish(
    newEvent(orderPaid, orderId, 1, {
      orderId,
      eventId: uuidv7(),
      organizationId,
      buyerId: null,
      buyerEmail,
      buyerName: 'Ana Kovač',
      eventTitle: 'Sarajevo Jazz Night',
      tickets: tickets.map(({ ticketId, token }) => ({
        ticketId,
        sealedToken: testLinkTokens.seal(token, ticketId),
      })),
      total: { amount: 5000, currency: 'EUR' },
    }),
  );
  const mail = await smtp.waitForMessage((m) => m.envelope.to.includes(buyerEmail));
  const paths = tickets.map(
    ({ ticketId, token }) => `/tickets/${ticketId}.pdf?token=${encodeURIComponent(token)}`,
  );
  return { mail, paths };
}

/** The links of the mail's HTML and text (hrefs and written-out URLs). */
const linksOf = (mail: ReceivedMail) => [
  ...[...String(mail.parsed.html).matchAll(/href="([^"]+)"/g)].map((match) =>
    match[1]!.replace(/&amp;/g, '&'),
  ),
  ...(mail.parsed.text?.match(/https?:\/\/\S+/g) ?? []),
];

describe("an order's mail, end to end (branding's event → orders' event → SMTP)", () => {
  it("links every ticket to the organization's domain, and still attaches the PDFs", async () => {
    const organizationId = uuidv7();
    await announce(contextOf(organizationId, { primaryColor: '#0B5394', domain: DOMAIN, version: 2 }));
    const { mail, paths } = await orderMail(organizationId);
    for (const path of paths) {
      expect(mail.parsed.text).toContain(`https://${DOMAIN}${path}`);
      expect(mail.parsed.html).toContain(`href="https://${DOMAIN}${path.replace(/&/g, '&amp;')}"`);
    }
    // Not one link left on the platform.
    expect(linksOf(mail).filter((link) => link.startsWith(GATEWAY))).toEqual([]);
    expect(mail.parsed.html).toContain(
      `<meta name="bilten-brand" content="brand-version:2 brand-primary:#0B5394 brand-logo:${sha('a')} brand-domain:${DOMAIN}">`,
    );
    expect(mail.parsed.attachments.map((file) => file.contentType)).toEqual([
      'application/pdf',
      'application/pdf',
    ]);
  });

  it("links to the platform's base without a domain", async () => {
    const organizationId = uuidv7();
    await announce(contextOf(organizationId, { version: 1 }));
    const { mail, paths } = await orderMail(organizationId);
    for (const path of paths) expect(mail.parsed.text).toContain(`${GATEWAY}${path}`);
    expect(linksOf(mail).filter((link) => link.includes(DOMAIN))).toEqual([]);
    expect(mail.parsed.html).toContain('brand-domain:none');
  });

  it('renders the next mail with a newer context, without a restart; an older one arriving late changes nothing', async () => {
    const organizationId = uuidv7();
    const first = contextOf(organizationId, { primaryColor: '#0B5394', domain: DOMAIN, version: 3 });
    await announce(first);
    expect((await orderMail(organizationId)).mail.parsed.html).toContain(`brand-domain:${DOMAIN}`);

    // The domain is removed and the colour changed.
    await announce(contextOf(organizationId, { primaryColor: '#AA1122', domain: null, version: 4 }));
    // The older context, delivered again late: the newer stays.
    await subgraph.testBus.bus.publish(newEvent(brandKitChanged, organizationId, 5, first));
    await consumerCaughtUp(jsm, subgraph, 'brand-kits');
    const { mail, paths } = await orderMail(organizationId);
    expect(mail.parsed.html).toContain('brand-version:4 brand-primary:#AA1122');
    expect(mail.parsed.html).toContain('brand-domain:none');
    for (const path of paths) expect(mail.parsed.text).toContain(`${GATEWAY}${path}`);
  });
});

describe('the delivery worker', () => {
  const env = {
    NODE_ENV: 'test',
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    MAIL_LINK_SECRET: randomBytes(32).toString('hex'),
  };
  const ring = keyRingFromEnv(env);
  const addressHash = createAddressHash(env);
  const unsubscribe = createUnsubscribeLinks({ env, gateway: 'https://gateway.example' });
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let keys: MessagingKeys;

  beforeAll(async () => {
    database = await createTestDatabase();
    await applyMigrations(database.url, 'messaging', new URL('../drizzle/', import.meta.url));
    handle = connectDatabase({ url: database.url, applicationName: 'branded-links-test' });
    keys = messagingKeysFromEnv(handle.db, env);
  });

  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  /** Stores a context through messaging's own consumer, as a JetStream delivery would. */
  const store = (context: BrandedContext) =>
    handle.db.transaction((tx) => brandKitConsumer().handle({ payload: context } as never, tx));

  const renderer = () => createRenderer({ site: 'https://web.example', gateway: GATEWAY });
  const orderData = (orderId: string, ticketId: string) =>
    ({
      orderId,
      event: { id: uuidv7(), title: 'Open-air cinema' },
      total: { amount: 1500, currency: 'BAM' },
      tickets: [{ ticketId, url: `${GATEWAY}/tickets/${ticketId}.pdf?token=abc` }],
      recipient: { name: 'Amra' },
    }) as DataOf<'orderConfirmed'>;

  it('renders a queued mail with the brand current when it is sent, not when it was queued', async () => {
    const organizationId = uuidv7();
    await store(contextOf(organizationId, { primaryColor: '#111111', version: 1 }));
    const sourceEventId = uuidv7();
    const address = `${uuidv7()}@example.test`;
    const ticketId = uuidv7();
    await handle.db.transaction((tx) =>
      enqueueDeliveries(tx, { ring, keys, addressHash }, [
        {
          kind: 'orderConfirmed',
          channel: 'EMAIL',
          locale: 'en',
          sourceEventId,
          recipientId: null,
          address,
          data: orderData(uuidv7(), ticketId),
          organizationId,
          eventId: null,
        },
      ]),
    );
    // While it waits, the organization's domain becomes active and its colour changes.
    await store(contextOf(organizationId, { primaryColor: '#222222', domain: DOMAIN, version: 2 }));

    const { log } = captureLogs();
    const worker = startDeliveryWorker({
      db: handle.db,
      sql: handle.sql,
      log,
      ring,
      keys,
      addressHash,
      renderer: renderer(),
      email: createEmailSender(
        {
          NODE_ENV: 'test',
          SMTP_URL: smtp.url,
          SMTP_FALLBACK_URL: undefined,
          MAIL_FROM: 'Bilten <no-reply@bilten.test>',
          DKIM_DOMAIN: undefined,
          DKIM_SELECTOR: undefined,
          DKIM_PRIVATE_KEY: undefined,
        },
        log,
      ),
      unsubscribe,
      from: 'Bilten <no-reply@bilten.test>',
      maxAttempts: 3,
      retryBaseMs: 20,
      pollMs: 30,
      perRecipientPerHour: 100,
    });
    try {
      const mail = await smtp.waitForMessage((m) => m.envelope.to.includes(address));
      expect(mail.parsed.html).toContain(`brand-version:2 brand-primary:#222222`);
      expect(mail.parsed.text).toContain(`https://${DOMAIN}/tickets/${ticketId}.pdf?token=abc`);
      expect(mail.parsed.attachments).toHaveLength(1);
      await waitFor(async () => {
        const [row] = await handle.db
          .select()
          .from(deliveries)
          .where(eq(deliveries.sourceEventId, sourceEventId));
        return row?.status === 'SENT';
      });
    } finally {
      await worker.stop();
    }
  });

  it("gives a push the organization's logo as icon, its name and colour, and a tap on its domain; SMS links there too", async () => {
    const organizationId = uuidv7();
    await store(
      contextOf(organizationId, {
        primaryColor: '#0B5394',
        logoUrl: `https://assets.bilten.test/assets/${sha('e')}`,
        domain: DOMAIN,
        version: 6,
      }),
    );
    const orderId = uuidv7();
    const row = {
      kind: 'orderConfirmed',
      locale: 'en',
      critical: true,
      recipientId: uuidv7(),
      category: 'TRANSACTIONAL' as const,
      organizationId,
    };
    const deps = { db: handle.db, renderer: renderer(), unsubscribe };
    const push = await renderShortOf(deps, row, orderData(orderId, uuidv7()));
    expect(push).toMatchObject({
      url: `https://${DOMAIN}/orders/${orderId}`,
      icon: `https://assets.bilten.test/assets/${sha('e')}`,
      organization: { name: null, color: '#0B5394' },
    });
    expect(smsTextOf(push)).toContain(`https://${DOMAIN}/orders/${orderId}`);

    // Without a domain or brand: today's base, no icon.
    const plain = await renderShortOf(
      deps,
      { ...row, organizationId: uuidv7() },
      orderData(orderId, uuidv7()),
    );
    expect(plain.url).toBe(`https://web.example/orders/${orderId}`);
    expect(plain.icon).toBeUndefined();
  });

  it("keeps account mails on the platform's account pages, domain or not", async () => {
    const organizationId = uuidv7();
    const link = 'https://web.example/accept-invitation?token=abc';
    const mail = await renderer().email(
      'invitation',
      'en',
      {
        link,
        organizationName: 'Kino',
        inviterName: 'Amra',
        role: 'ADMIN',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        issuedAt: new Date().toISOString(),
        recipient: { name: '' },
      } as DataOf<'invitation'>,
      brandFromContext(contextOf(organizationId, { domain: DOMAIN }), 'Kino'),
      {},
    );
    expect(mail.text).toContain(link);
    expect(mail.html).not.toContain(`https://${DOMAIN}`);
  });
});
