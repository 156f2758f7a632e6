import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  applyMigrations,
  columnAad,
  connectDatabase,
  type DatabaseHandle,
  defaultBrandedContext,
  keyRingFromEnv,
  rotateEncryptedColumns,
} from '@bilten/platform';
import {
  captureLogs,
  createTestDatabase,
  startTestSmtpServer,
  type TestDatabase,
  type TestSmtpServer,
  waitFor,
} from '@bilten/testkit';
import { asc, eq } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { createAddressHash } from '../src/adapters/address-hash.ts';
import { createDeliveryMetrics } from '../src/adapters/delivery-metrics.ts';
import { createEmailSender, type EmailSenderConfig } from '../src/adapters/mailer.ts';
import { createRenderer } from '../src/adapters/renderer.ts';
import { createSmsSender } from '../src/adapters/sms.ts';
import { createUnsubscribeLinks } from '../src/adapters/unsubscribe-links.ts';
import { createPushSender } from '../src/adapters/web-push.ts';
import { claimDueDeliveries } from '../src/db/deliveries.ts';
import { type MessagingKeys, messagingKeysFromEnv, sealFor } from '../src/db/person-keys.ts';
import { upsertOrganizationName, upsertRecipient } from '../src/db/recipients.ts';
import {
  brandContexts,
  deliveries,
  deliveryAttempts,
  pushSubscriptions,
  RECIPIENT_EMAIL_COLUMN,
  suppressedAddresses,
  usage,
} from '../src/db/schema.ts';
import { addressOf, enqueueDeliveries, type NewDelivery } from '../src/domain/deliveries.ts';
import { type DeliveryWorkerDeps, startDeliveryWorker } from '../src/domain/delivery-worker.ts';
import { encryptedColumns } from '../src/server.ts';
import { closedPort, startRefusingSmtp } from './refusing-smtp.ts';

const DATA_KEY = `k1:${randomBytes(32).toString('base64')}`;
const env = {
  NODE_ENV: 'test',
  DATA_ENCRYPTION_KEYS: DATA_KEY,
  MAIL_LINK_SECRET: randomBytes(32).toString('hex'),
};
const FROM = 'Bilten <no-reply@bilten.test>';
const ring = keyRingFromEnv(env);
const addressHash = createAddressHash(env);
const unsubscribe = createUnsubscribeLinks({ env, gateway: 'https://gateway.example' });
const senderConfig: Omit<EmailSenderConfig, 'SMTP_URL'> = {
  NODE_ENV: 'test',
  SMTP_FALLBACK_URL: undefined,
  MAIL_FROM: FROM,
  DKIM_DOMAIN: undefined,
  DKIM_SELECTOR: undefined,
  DKIM_PRIVATE_KEY: undefined,
};

let database: TestDatabase;
let handle: DatabaseHandle;
let smtp: TestSmtpServer;
let keys: MessagingKeys;

beforeAll(async () => {
  database = await createTestDatabase();
  await applyMigrations(database.url, 'messaging', new URL('../drizzle/', import.meta.url));
  handle = connectDatabase({ url: database.url, applicationName: 'deliveries-test' });
  keys = messagingKeysFromEnv(handle.db, env);
  smtp = await startTestSmtpServer();
});

afterAll(async () => {
  await smtp?.stop();
  await handle?.close();
  await database?.drop();
});

/** A worker as server.ts starts it, sending to the test SMTP server unless told otherwise. */
function startWorker(overrides: Partial<DeliveryWorkerDeps> = {}) {
  const { log } = captureLogs();
  return startDeliveryWorker({
    db: handle.db,
    sql: handle.sql,
    log,
    ring,
    keys,
    addressHash,
    renderer: createRenderer(),
    email: createEmailSender({ ...senderConfig, SMTP_URL: smtp.url }, log),
    unsubscribe,
    from: FROM,
    maxAttempts: 5,
    retryBaseMs: 20,
    pollMs: 30,
    perRecipientPerHour: 100,
    ...overrides,
  });
}

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const verification = (name = 'Amra Hodžić') => ({
  link: `https://web.example/verify-email?token=${randomBytes(8).toString('hex')}`,
  expiresAt: inAnHour(),
  issuedAt: new Date().toISOString(),
  newAccount: true,
  recipient: { name },
});
let addresses = 0;
const newAddress = (prefix = 'guest') =>
  `${prefix}-${++addresses}-${randomBytes(3).toString('hex')}@example.test`;

/** Enqueues in a transaction of its own, as a workflow does in its consumer's. */
const enqueue = (...items: Array<Partial<NewDelivery> & { address: string }>) =>
  handle.db.transaction((tx) =>
    enqueueDeliveries(
      tx,
      { ring, keys, addressHash },
      items.map((item) => ({
        kind: 'emailVerification',
        channel: 'EMAIL',
        locale: 'en',
        sourceEventId: uuidv7(),
        recipientId: null,
        data: verification(),
        ...item,
      })),
    ),
  );

const rowsOf = (sourceEventId: string) =>
  handle.db
    .select()
    .from(deliveries)
    .where(eq(deliveries.sourceEventId, sourceEventId))
    .orderBy(asc(deliveries.id));
const attemptsOf = (deliveryId: string) =>
  handle.db
    .select()
    .from(deliveryAttempts)
    .where(eq(deliveryAttempts.deliveryId, deliveryId))
    .orderBy(asc(deliveryAttempts.attempt));
/** The delivery of `sourceEventId` once it is in one of `statuses`. */
const settled = (sourceEventId: string, statuses: string[] = ['SENT'], timeoutMs = 10_000) =>
  waitFor(async () => {
    const [row] = await rowsOf(sourceEventId);
    return row && statuses.includes(row.status) ? row : undefined;
  }, timeoutMs);

describe('delivery queue and worker', () => {
  it('enqueues once per source, address and channel, and sends at once when woken, with a stable Message-ID', async () => {
    // Polling every minute: only the NOTIFY of the enqueue's commit can make it send within the test.
    const worker = startWorker({ pollMs: 60_000 });
    try {
      await waitFor(async () => {
        const [row] = await handle.sql<{ listening: number }[]>`
          select count(*)::int as listening from pg_stat_activity
          where datname = current_database() and query ilike 'listen%messaging_deliveries%'`;
        return row!.listening > 0;
      });
      const sourceEventId = uuidv7();
      const address = newAddress();
      const data = verification();
      expect(await enqueue({ sourceEventId, address, data })).toBe(1);
      // Redelivered (and the address written differently): nothing new.
      expect(await enqueue({ sourceEventId, address: ` ${address.toUpperCase()} `, data })).toBe(0);

      const row = await settled(sourceEventId);
      expect(await rowsOf(sourceEventId)).toHaveLength(1);
      expect(row).toMatchObject({
        kind: 'emailVerification',
        category: 'ACCOUNT_SECURITY',
        critical: true,
        attempts: 1,
        transport: 'smtp',
        providerMessageId: `<${row.id}@bilten.test>`,
      });
      const mail = await smtp.waitForMessage((m) => m.envelope.to.includes(address));
      expect(mail.parsed.messageId).toBe(`<${row.id}@bilten.test>`);
      expect(mail.parsed.text).toContain(data.link);
      expect(smtp.messages.filter((m) => m.envelope.to.includes(address))).toHaveLength(1);
      expect(await attemptsOf(row.id)).toEqual([
        expect.objectContaining({ attempt: 1, transport: 'smtp', outcome: 'SENT' }),
      ]);
      // At rest the address and the link's token are encrypted, bound to the row.
      expect(row.addressSealed).not.toContain(address);
      expect(row.dataSealed).not.toContain(data.link);
      expect(row.addressSealed.startsWith('p1.')).toBe(true);
      expect(await addressOf(handle.db, keys, row)).toBe(address);
      await expect(addressOf(handle.db, keys, { ...row, id: uuidv7() })).rejects.toThrow();
    } finally {
      await worker.stop();
    }
  });

  it('sends through the fallback SMTP when the primary is down, and the attempt says both', async () => {
    const { log } = captureLogs();
    const worker = startWorker({
      email: createEmailSender(
        { ...senderConfig, SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, SMTP_FALLBACK_URL: smtp.url },
        log,
      ),
    });
    try {
      const sourceEventId = uuidv7();
      const address = newAddress();
      await enqueue({ sourceEventId, address });
      const row = await settled(sourceEventId);
      expect(row.transport).toBe('smtp-fallback');
      await smtp.waitForMessage((m) => m.envelope.to.includes(address));
      const [attempt] = await attemptsOf(row.id);
      expect(attempt).toMatchObject({ transport: 'smtp-fallback', outcome: 'SENT' });
      expect(attempt!.detail).toMatch(
        /^primary failed \(ESOCKET connect ECONNREFUSED .*\); fallback accepted$/,
      );
    } finally {
      await worker.stop();
    }
  });

  it('retries a 4xx with a growing delay, then sends; /metrics counts both retries and the send', async () => {
    // The top of each jitter window, so the delays are the window's size: 150 ms, then 300 ms.
    const registry = new Registry();
    const worker = startWorker({
      retryBaseMs: 150,
      random: () => 0.999,
      metrics: createDeliveryMetrics(registry),
    });
    try {
      smtp.failNext(2);
      const sourceEventId = uuidv7();
      const address = newAddress();
      await enqueue({ sourceEventId, address });
      const row = await settled(sourceEventId);
      expect(row.attempts).toBe(3);
      const attempts = await attemptsOf(row.id);
      expect(attempts.map((a) => a.outcome)).toEqual(['TRANSIENT', 'TRANSIENT', 'SENT']);
      expect(attempts[0]!.detail).toContain('451');
      const [first, second, third] = attempts.map((a) => a.at.getTime());
      expect(second! - first!).toBeGreaterThanOrEqual(140);
      expect(third! - second!).toBeGreaterThanOrEqual(290);
      await smtp.waitForMessage((m) => m.envelope.to.includes(address));
      const exposed = await registry.metrics();
      expect(exposed).toContain('messaging_deliveries_total{channel="EMAIL",outcome="retried"} 2');
      expect(exposed).toContain('messaging_deliveries_total{channel="EMAIL",outcome="sent"} 1');
      expect(exposed).toContain('messaging_delivery_seconds_count{channel="EMAIL"} 1');
    } finally {
      await worker.stop();
      smtp.failNext(0);
    }
  });

  it('gives up after DELIVERY_MAX_ATTEMPTS: FAILED, nothing sent', async () => {
    const worker = startWorker({ maxAttempts: 3, retryBaseMs: 10 });
    try {
      smtp.failNext(100);
      const sourceEventId = uuidv7();
      const address = newAddress();
      await enqueue({ sourceEventId, address });
      const row = await settled(sourceEventId, ['FAILED']);
      expect(row).toMatchObject({ attempts: 3, sentAt: null });
      expect(row.endedAt).toBeInstanceOf(Date);
      expect(row.lastError).toContain('451');
      expect((await attemptsOf(row.id)).map((a) => a.outcome)).toEqual([
        'TRANSIENT',
        'TRANSIENT',
        'TRANSIENT',
      ]);
      expect(smtp.messages.some((m) => m.envelope.to.includes(address))).toBe(false);
    } finally {
      await worker.stop();
      smtp.failNext(0);
    }
  });

  it('a bounce ends as BOUNCED and suppresses the address: the next mail to it is SUPPRESSED, a changed address is mailed', async () => {
    const refusing = await startRefusingSmtp();
    const { log } = captureLogs();
    const worker = startWorker({
      email: createEmailSender({ ...senderConfig, SMTP_URL: refusing.url }, log),
    });
    try {
      const userId = uuidv7();
      const bouncing = newAddress('unknown');
      const first = uuidv7();
      await enqueue({ sourceEventId: first, address: bouncing, recipientId: userId });
      const bounced = await settled(first, ['BOUNCED', 'FAILED']);
      expect(bounced).toMatchObject({ status: 'BOUNCED', attempts: 1 });
      expect(bounced.lastError).not.toContain(bouncing);
      expect(await attemptsOf(bounced.id)).toEqual([
        expect.objectContaining({ outcome: 'PERMANENT', transport: 'smtp' }),
      ]);
      const suppressed = await handle.db
        .select()
        .from(suppressedAddresses)
        .where(eq(suppressedAddresses.addressHash, addressHash(bouncing, 'EMAIL')));
      expect(suppressed).toEqual([
        expect.objectContaining({ channel: 'EMAIL', reason: 'BOUNCE', deliveryId: bounced.id }),
      ]);

      const second = uuidv7();
      await enqueue({ sourceEventId: second, address: bouncing.toUpperCase(), recipientId: userId });
      const skipped = await settled(second, ['SUPPRESSED', 'SENT', 'BOUNCED', 'FAILED']);
      expect(skipped).toMatchObject({ status: 'SUPPRESSED', lastError: 'address suppressed (BOUNCE)' });
      expect(await attemptsOf(skipped.id)).toEqual([]);

      const changed = newAddress('amra');
      const third = uuidv7();
      await enqueue({ sourceEventId: third, address: changed, recipientId: userId });
      await settled(third);
      expect(refusing.accepted).toEqual([[changed]]);
    } finally {
      await worker.stop();
      await refusing.stop();
    }
  });

  it('sends again a delivery whose worker died after claiming it, once its lease ends', async () => {
    const sourceEventId = uuidv7();
    const address = newAddress();
    await enqueue({ sourceEventId, address });
    // A worker claims it and dies before sending anything.
    const claimed = await claimDueDeliveries(handle.db, { limit: 10, leaseMs: 500 });
    expect(claimed.map((row) => row.sourceEventId)).toEqual([sourceEventId]);
    const worker = startWorker();
    try {
      const [held] = await rowsOf(sourceEventId);
      expect(held).toMatchObject({ status: 'QUEUED', attempts: 1 });
      const row = await settled(sourceEventId);
      expect(row.attempts).toBe(2);
      expect(row.sentAt!.getTime() - held!.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(0);
      expect(await attemptsOf(row.id)).toEqual([expect.objectContaining({ attempt: 2, outcome: 'SENT' })]);
      expect(smtp.messages.filter((m) => m.envelope.to.includes(address))).toHaveLength(1);
    } finally {
      await worker.stop();
    }
  });

  it('stops at the hourly per-recipient limit with a security warning', async () => {
    const { log, lines } = captureLogs();
    const worker = startWorker({ log, perRecipientPerHour: 1, concurrency: 1 });
    try {
      const address = newAddress();
      const [first, second] = [uuidv7(), uuidv7()];
      await enqueue({ sourceEventId: first, address }, { sourceEventId: second, address });
      // Claimed together, sent one at a time: whichever goes first is sent, the other is over the limit.
      const settledBoth = await waitFor(async () => {
        const rows = [...(await rowsOf(first)), ...(await rowsOf(second))];
        return rows.every((row) => row.status !== 'QUEUED') ? rows : undefined;
      });
      expect(settledBoth.map((row) => row.status).sort()).toEqual(['FAILED', 'SENT']);
      const limited = settledBoth.find((row) => row.status === 'FAILED')!;
      expect(limited.lastError).toBe('rate limited');
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 40,
          security: true,
          deliveryId: limited.id,
          msg: 'mail not sent: its recipient had the most mails an hour allows',
        }),
      );
      expect(smtp.messages.filter((m) => m.envelope.to.includes(address))).toHaveLength(1);
    } finally {
      await worker.stop();
    }
  });

  it('meters what it sends for an organization, one unit per email, SMS and push; account mail and failures are not metered (issue 19)', async () => {
    // A push service and an SMS provider that take everything, except one number the provider refuses.
    const answering = (status: (url: string, body: string) => number, body: unknown): Promise<Server> =>
      new Promise((resolve) => {
        const server = createServer((request, response) => {
          const chunks: Buffer[] = [];
          request.on('data', (chunk: Buffer) => chunks.push(chunk));
          request.on('end', () =>
            response
              .writeHead(status(request.url ?? '', Buffer.concat(chunks).toString()), {
                'content-type': 'application/json',
              })
              .end(JSON.stringify(body)),
          );
        });
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const pushService = await answering(() => 201, {});
    const smsProvider = await answering(
      (_url, body) => (new URLSearchParams(body).get('To') === '+15005550001' ? 400 : 201),
      { sid: 'SM00000000000000000000000000000001', status: 'queued', code: 21211, message: 'invalid' },
    );
    const vapid = webpush.generateVAPIDKeys();
    const browser = createECDH('prime256v1');
    browser.generateKeys();
    const organizationId = uuidv7();
    const userId = uuidv7();
    const subscriptionId = uuidv7();
    await handle.db.insert(pushSubscriptions).values({
      id: subscriptionId,
      userId,
      endpoint: `${urlOf(pushService)}/push/${subscriptionId}`,
      p256dh: browser.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    });
    const worker = startWorker({
      push: createPushSender({
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT: 'mailto:ops@bilten.test',
      }),
      sms: createSmsSender(
        {
          SMS_API_URL: urlOf(smsProvider),
          SMS_ACCOUNT_SID: 'AC0123456789abcdef',
          SMS_AUTH_TOKEN: 'sms-test-token',
          SMS_FROM: '+15005550006',
          PUBLIC_GATEWAY_URL: 'https://gateway.bilten.local/',
        },
        captureLogs().log,
      ),
    });
    try {
      const published = {
        kind: 'eventPublished' as const,
        recipientId: userId,
        organizationId,
        data: {
          event: {
            id: uuidv7(),
            title: 'Open-air cinema',
            url: 'https://web.example/events/1',
            starts: { at: inAnHour(), timezone: 'Europe/Sarajevo' },
          },
          organizer: { name: 'Kino Meeting Point' },
          recipient: { name: 'Amra' },
        } as NewDelivery['data'],
      };
      const sources = {
        email: uuidv7(),
        sms: uuidv7(),
        push: uuidv7(),
        refused: uuidv7(),
        account: uuidv7(),
      };
      await enqueue(
        { ...published, sourceEventId: sources.email, address: newAddress('follower') },
        { ...published, sourceEventId: sources.sms, channel: 'SMS', address: '+38761234567' },
        { ...published, sourceEventId: sources.push, channel: 'WEB_PUSH', address: subscriptionId },
        { ...published, sourceEventId: sources.refused, channel: 'SMS', address: '+15005550001' },
        // Account mail: no organization to charge.
        { sourceEventId: sources.account, address: newAddress() },
      );
      for (const source of [sources.email, sources.sms, sources.push, sources.account]) await settled(source);
      await settled(sources.refused, ['FAILED']);

      const metered = await handle.db.select().from(usage.usageHourly);
      expect(
        Object.fromEntries(
          metered
            .filter((row) => row.organizationId === organizationId)
            .map((row) => [row.metric, row.quantity]),
        ),
      ).toEqual({ emails: 1, sms: 1, pushes: 1 });
      expect(metered.every((row) => row.organizationId === organizationId)).toBe(true);
    } finally {
      await worker.stop();
      await new Promise<void>((resolve) => pushService.close(() => resolve()));
      await new Promise<void>((resolve) => smsProvider.close(() => resolve()));
    }
  });

  it('a critical push its service calls gone: the subscription is removed and the notice goes by email instead', async () => {
    let pushes = 0;
    const pushService: Server = createServer((request, response) => {
      pushes++;
      request.resume();
      request.on('end', () => response.writeHead(410).end());
    });
    await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve));
    const vapid = webpush.generateVAPIDKeys();
    const browser = createECDH('prime256v1');
    browser.generateKeys();
    const userId = uuidv7();
    const bookAddress = newAddress('holder');
    const subscriptionId = uuidv7();
    await handle.db.transaction(async (tx) => {
      await upsertRecipient(tx, {
        userId,
        emailSealed: (await sealFor(
          tx,
          keys,
          { userId },
          bookAddress,
          columnAad(RECIPIENT_EMAIL_COLUMN, userId),
        ))!,
        emailSetAt: new Date(),
        displayNameSealed: null,
      });
      await tx.insert(pushSubscriptions).values({
        id: subscriptionId,
        userId,
        endpoint: `http://127.0.0.1:${(pushService.address() as { port: number }).port}/push/${subscriptionId}`,
        p256dh: browser.getPublicKey().toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      });
    });
    const worker = startWorker({
      push: createPushSender({
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT: 'mailto:ops@bilten.test',
      }),
    });
    try {
      const sourceEventId = uuidv7();
      await enqueue({
        kind: 'eventCancelled',
        channel: 'WEB_PUSH',
        sourceEventId,
        recipientId: userId,
        address: subscriptionId,
        data: {
          event: { id: uuidv7(), title: 'Sarajevo Jazz Night' },
          reason: 'The venue flooded',
          refund: { amount: 2500, currency: 'BAM' },
          recipient: { name: 'Lejla' },
        } as NewDelivery['data'],
      });
      const [push, email] = await waitFor(async () => {
        const rows = await rowsOf(sourceEventId);
        return rows.length === 2 && rows[1]!.status === 'SENT' ? rows : undefined;
      });
      expect(push).toMatchObject({ channel: 'WEB_PUSH', status: 'FAILED', attempts: 1 });
      expect(email).toMatchObject({
        channel: 'EMAIL',
        fallbackOf: push!.id,
        recipientId: userId,
        critical: true,
      });
      expect(pushes).toBe(1);
      expect(
        await handle.db.select().from(pushSubscriptions).where(eq(pushSubscriptions.id, subscriptionId)),
      ).toEqual([]);
      const mail = await smtp.waitForMessage((m) => m.envelope.to.includes(bookAddress));
      expect(mail.parsed.text).toContain('Sarajevo Jazz Night');
    } finally {
      await worker.stop();
      await new Promise<void>((resolve) => pushService.close(() => resolve()));
    }
  });

  it('renders a non-critical mail in its organization’s brand, with a working one-click opt-out', async () => {
    const organizationId = uuidv7();
    const userId = uuidv7();
    await handle.db.transaction(async (tx) => {
      await upsertOrganizationName(tx, { organizationId, name: 'Kino Meeting Point', namedAt: new Date() });
      const changedAt = new Date();
      await tx.insert(brandContexts).values({
        organizationId,
        context: {
          ...defaultBrandedContext(organizationId),
          primaryColor: '#AB1234',
          accentColor: '#00AA55',
          changedAt: changedAt.toISOString(),
        },
        changedAt,
      });
    });
    const worker = startWorker();
    try {
      const sourceEventId = uuidv7();
      const address = newAddress('follower');
      await enqueue({
        kind: 'eventPublished',
        sourceEventId,
        recipientId: userId,
        address,
        organizationId,
        data: {
          event: {
            id: uuidv7(),
            title: 'Open-air cinema',
            url: 'https://web.example/events/1',
            starts: { at: inAnHour(), timezone: 'Europe/Sarajevo' },
          },
          organizer: { name: 'Kino Meeting Point' },
          recipient: { name: 'Amra' },
        } as NewDelivery['data'],
      });
      await settled(sourceEventId);
      const mail = await smtp.waitForMessage((m) => m.envelope.to.includes(address));
      expect(String(mail.parsed.html).toLowerCase()).toContain('#ab1234');
      // Folded on the wire; the URL itself has no spaces.
      const header = mail.parsed.headerLines.find((line) => line.key === 'list-unsubscribe')!.line;
      const link = /<([^>]+)>/.exec(header.replace(/\r?\n[ \t]+/g, ''))?.[1];
      const token = new URL(link!).searchParams.get('token')!;
      expect(unsubscribe.open(token)).toEqual({ userId, category: 'EVENT_UPDATES', channel: 'EMAIL' });
    } finally {
      await worker.stop();
    }
  });

  it('npm run keys:rotate re-encrypts the deliveries’ data; addresses stay under their person’s key', async () => {
    const sourceEventId = uuidv7();
    const address = newAddress();
    // Held an hour (quiet hours): no worker runs here anyway, and it stays QUEUED.
    await enqueue({ sourceEventId, address, notBefore: new Date(Date.now() + 3_600_000) });
    const rotated = keyRingFromEnv({
      NODE_ENV: 'test',
      DATA_ENCRYPTION_KEYS: `k2:${randomBytes(32).toString('base64')},${DATA_KEY}`,
    });
    const results = await rotateEncryptedColumns(handle.sql, rotated, encryptedColumns);
    expect(results).toContainEqual(
      expect.objectContaining({ column: 'messaging.deliveries.data_sealed', failed: [] }),
    );
    expect(results.map((result) => result.column)).not.toContain('messaging.deliveries.address_sealed');
    const [row] = await rowsOf(sourceEventId);
    expect(row!.addressSealed.startsWith('p1.')).toBe(true);
    expect(row!.dataSealed.startsWith('v1.k2.')).toBe(true);
    expect(await addressOf(handle.db, keys, row!)).toBe(address);
    expect(row!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
  });
});
