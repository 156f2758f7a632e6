import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { personalDataErasedPayload, personalDataExportedPayload } from '@bilten/contracts';
import { accountErasureRequested, dataExportRequested } from '@bilten/contracts/identity';
import type { EventConsumer } from './consumers.ts';
import type { Transaction } from './db.ts';
import type { EventDefinition } from './events.ts';
import type { Outbox } from './outbox.ts';
import { seal, unseal } from './sealing.ts';

/**
 * A user's privacy requests (issue 18, GDPR articles 15 and 17) as every subgraph takes its step:
 * identity asks over NATS, each subgraph answers with its part of the export or the counts of what
 * it erased, in the same transaction as the work, so the saga survives crashes and broker outages
 * and a redelivered request is answered once.
 */

/** What a subgraph does for a privacy request; both run inside the consumer's transaction. */
export interface PersonalDataSteps {
  /** Everything this subgraph holds about the user, as plain JSON (dates as ISO strings). */
  collect(tx: Transaction, userId: string): Promise<Record<string, unknown>>;
  /**
   * Erases or anonymizes it (and guest records under `email`); the rows touched per table, e.g.
   * `{ 'orders.anonymized': 2 }`. Must be idempotent: a second run finds nothing left.
   */
  erase(tx: Transaction, subject: { userId: string; email: string }): Promise<Record<string, number>>;
}

/**
 * The two consumers a subgraph runs to answer identity's `dataExportRequested` and
 * `accountErasureRequested` with its own `personalDataExported` and `personalDataErased`.
 */
export function privacyRequestConsumers(options: {
  service: string;
  outbox: Outbox;
  exported: EventDefinition<typeof personalDataExportedPayload>;
  erased: EventDefinition<typeof personalDataErasedPayload>;
  steps: PersonalDataSteps;
}): EventConsumer[] {
  const { service, outbox, exported, erased, steps } = options;
  const exporter: EventConsumer<typeof dataExportRequested.payload> = {
    name: `${service}-data-export`,
    event: dataExportRequested,
    async handle({ payload }, tx) {
      const part = await steps.collect(tx, payload.userId);
      await outbox.publish(tx, exported, payload.requestId, {
        requestId: payload.requestId,
        userId: payload.userId,
        sealedPart: sealExportPart(payload.publicKey, { service, ...part }),
      });
    },
  };
  const eraser: EventConsumer<typeof accountErasureRequested.payload> = {
    name: `${service}-account-erasure`,
    event: accountErasureRequested,
    async handle({ payload }, tx) {
      const summary = await steps.erase(tx, { userId: payload.userId, email: payload.email });
      await outbox.publish(tx, erased, payload.requestId, {
        requestId: payload.requestId,
        userId: payload.userId,
        summary,
      });
    },
  };
  return [exporter, eraser] as EventConsumer[];
}

/**
 * A one-time RSA key pair for one export: the public half travels in `dataExportRequested`, the
 * private half stays with identity until the archive is assembled, then is dropped, so the parts
 * left in outboxes, streams and backups open for no one.
 */
export function createExportKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 3072,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const PART_VERSION = 'p1';
const PART_AAD = 'bilten-export-part';

/** `part` as JSON, gzipped, sealed with a fresh AES-256-GCM key wrapped by RSA-OAEP (SHA-256) for `publicKey`. */
export function sealExportPart(publicKey: string, part: unknown): string {
  const key = randomBytes(32);
  const wrapped = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    key,
  );
  const body = seal(key, gzipSync(JSON.stringify(part)).toString('base64'), PART_AAD);
  return `${PART_VERSION}.${wrapped.toString('base64url')}.${body}`;
}

/** The part `sealExportPart` sealed; throws when it was altered or sealed for another key. */
export function openExportPart(privateKey: string, sealed: string): unknown {
  const [version, wrapped, body, extra] = sealed.split('.');
  if (version !== PART_VERSION || !wrapped || !body || extra !== undefined)
    throw new Error('not a sealed export part');
  const key = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(wrapped, 'base64url'),
  );
  return JSON.parse(gunzipSync(Buffer.from(unseal(key, body, PART_AAD), 'base64')).toString('utf8'));
}
