import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
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
  /**
   * Everything this subgraph holds about the user, as plain JSON (dates as ISO strings); with
   * `verifiedEmail`, guest records under that proven address too.
   */
  collect(
    tx: Transaction,
    userId: string,
    guest: { verifiedEmail?: string | undefined },
  ): Promise<Record<string, unknown>>;
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
      const part = await steps.collect(tx, payload.userId, { verifiedEmail: payload.verifiedEmail });
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
 * A one-time X25519 key pair for one export: the public half travels in `dataExportRequested`, the
 * private half stays with identity until the archive is assembled, then is dropped, so the parts
 * left in outboxes, streams and backups open for no one. (X25519 rather than RSA: a key pair takes
 * microseconds, where RSA-3072 took seconds of a busy request.)
 */
export function createExportKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('x25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const PART_VERSION = 'x1';
const PART_AAD = 'bilten-export-part';

/** The AES-256 key of one part: HKDF-SHA256 of the X25519 secret, bound to the part's ephemeral key. */
function partKey(privateKey: KeyObject, publicKey: KeyObject, ephemeral: Buffer): Buffer {
  const shared = diffieHellman({ privateKey, publicKey });
  return Buffer.from(hkdfSync('sha256', shared, ephemeral, PART_AAD, 32));
}

/**
 * `part` as JSON, gzipped, sealed with AES-256-GCM under a key agreed (X25519, ECIES-style) between
 * a fresh ephemeral key and `publicKey`: only the holder of the request's private key opens it.
 */
export function sealExportPart(publicKey: string, part: unknown): string {
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralDer = ephemeral.publicKey.export({ type: 'spki', format: 'der' });
  const key = partKey(ephemeral.privateKey, createPublicKey(publicKey), ephemeralDer);
  const body = seal(key, gzipSync(JSON.stringify(part)).toString('base64'), PART_AAD);
  return `${PART_VERSION}.${ephemeralDer.toString('base64url')}.${body}`;
}

/** The part `sealExportPart` sealed; throws when it was altered or sealed for another key. */
export function openExportPart(privateKey: string, sealed: string): unknown {
  const [version, ephemeral, body, extra] = sealed.split('.');
  if (version !== PART_VERSION || !ephemeral || !body || extra !== undefined)
    throw new Error('not a sealed export part');
  const ephemeralDer = Buffer.from(ephemeral, 'base64url');
  const key = partKey(
    createPrivateKey(privateKey),
    createPublicKey({ key: ephemeralDer, format: 'der', type: 'spki' }),
    ephemeralDer,
  );
  return JSON.parse(gunzipSync(Buffer.from(unseal(key, body, PART_AAD), 'base64')).toString('utf8'));
}
