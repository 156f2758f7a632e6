import { createPublicKey } from 'node:crypto';
import * as billing from '@bilten/contracts/billing';
import * as branding from '@bilten/contracts/branding';
import * as catalog from '@bilten/contracts/catalog';
import * as messaging from '@bilten/contracts/messaging';
import * as orders from '@bilten/contracts/orders';
import {
  columnAad,
  type Database,
  type EventConsumer,
  type KeyRing,
  type Logger,
  type Outbox,
  openExportPart,
  type PersonKeys,
  type PersonVault,
  purgeSentEventsAbout,
  runPeriodically,
  type Transaction,
} from '@bilten/platform';
import { inviteeOf } from '../db/invitations.ts';
import {
  accountOf,
  completeStep,
  dropSealedParts,
  eraseIdentityRecords,
  expireArchives,
  lockPrivacyRequest,
  type PrivacyRequestRow,
  type PrivacyRequestStepRow,
  purgeAnsweredErasureRequests,
  stalledRequests,
  updatePrivacyRequest,
} from '../db/privacy-requests.ts';
import { eventStore } from '../db/schema.ts';
import { revokeSessions } from '../db/sessions.ts';
import { accountErasureRequested, dataExportRequested } from '../events.ts';
import { forgetFailedSignIns } from './password-guard.ts';
import {
  ARCHIVE_COLUMN,
  ARCHIVE_LIFETIME_MS,
  PRIVATE_KEY_COLUMN,
  verifiedEmailOf,
} from './privacy-requests.ts';

// The saga's answers (issue 18): each of the five other subgraphs answers identity's request with
// its `personalDataExported` or `personalDataErased`, recorded once per step (the inbox drops
// redeliveries; the request's row lock puts concurrent answers one after another). The last answer
// completes the request: the archive is assembled, or identity erases the account itself.

const ANSWERS = { catalog, orders, billing, messaging, branding };

type Deps = {
  outbox: Outbox;
  log: Logger;
  dataKeys: KeyRing;
  personKeys: PersonKeys;
  guestVault: PersonVault;
};

/** The steps still awaiting an answer once `service`'s is recorded, or undefined when it changes nothing. */
async function recordAnswer(
  tx: Transaction,
  kind: PrivacyRequestRow['kind'],
  payload: { requestId: string; userId: string },
  service: string,
  result: { sealedPart?: string; summary?: Record<string, number> },
) {
  const state = await lockPrivacyRequest(tx, payload.requestId);
  if (!state) return undefined;
  const { request, steps } = state;
  if (request.kind !== kind || request.status !== 'IN_PROGRESS' || request.userId !== payload.userId)
    return undefined;
  const step = steps.find((candidate) => candidate.service === service);
  if (!step || step.completedAt) return undefined;
  await completeStep(tx, request.id, service, result);
  Object.assign(step, result, { completedAt: new Date() });
  return { request, steps, pending: steps.filter((candidate) => !candidate.completedAt) };
}

/** One consumer per service and kind of answer: ten in all. */
export function privacyAnswerConsumers(deps: Deps): EventConsumer[] {
  return Object.entries(ANSWERS).flatMap(([service, contracts]) => {
    const exported: EventConsumer<typeof contracts.personalDataExported.payload> = {
      name: `privacy-export-${service}`,
      event: contracts.personalDataExported,
      async handle({ payload }, tx) {
        const answer = await recordAnswer(tx, 'EXPORT', payload, service, { sealedPart: payload.sealedPart });
        if (answer && !answer.pending.length) await assembleArchive(tx, deps, answer.request, answer.steps);
      },
    };
    const erased: EventConsumer<typeof contracts.personalDataErased.payload> = {
      name: `privacy-erasure-${service}`,
      event: contracts.personalDataErased,
      async handle({ payload }, tx) {
        const answer = await recordAnswer(tx, 'ERASURE', payload, service, { summary: payload.summary });
        const onlyIdentityLeft = answer?.pending.length === 1 && answer.pending[0]!.service === 'identity';
        if (answer && onlyIdentityLeft) await eraseAccount(tx, deps, answer.request);
      },
    };
    return [exported, erased] as EventConsumer[];
  });
}

/**
 * Every part opened with the request's private key into ONE archive, encrypted at rest, and the
 * private key dropped: the parts left in outboxes and streams open for no one from now on.
 */
async function assembleArchive(
  tx: Transaction,
  deps: Deps,
  request: PrivacyRequestRow,
  steps: PrivacyRequestStepRow[],
) {
  const privateKey = deps.dataKeys.decrypt(
    request.privateKeySealed!,
    columnAad(PRIVATE_KEY_COLUMN, request.id),
  );
  const services: Record<string, unknown> = {};
  for (const step of steps) {
    const { service: _name, ...part } = openExportPart(privateKey, step.sealedPart!) as Record<
      string,
      unknown
    >;
    services[step.service] = part;
  }
  const identityPart = services.identity as { account?: unknown } | undefined;
  const archive = { generatedAt: new Date().toISOString(), user: identityPart?.account ?? null, services };
  const now = new Date();
  await updatePrivacyRequest(tx, request.id, {
    status: 'COMPLETED',
    completedAt: now,
    privateKeySealed: null,
    archiveSealed: deps.dataKeys.encrypt(JSON.stringify(archive), columnAad(ARCHIVE_COLUMN, request.id)),
    downloadExpiresAt: new Date(now.getTime() + ARCHIVE_LIFETIME_MS),
  });
  await dropSealedParts(tx, request.id);
  deps.log.info({ requestId: request.id }, 'data export assembled');
}

/**
 * Identity's own step, once the other five confirmed: sessions revoked (every service refuses the
 * account's tokens from now on), failed-sign-in counters of the address forgotten, the account and
 * what references it erased (db/privacy-requests.ts), identity's relayed events about the person
 * purged; the request row stays, with dates and counts only.
 */
async function eraseAccount(tx: Transaction, deps: Deps, request: PrivacyRequestRow) {
  const account = await accountOf(tx, deps.personKeys, request.userId);
  let summary: Record<string, number> = {};
  if (account) {
    const revoked = await revokeSessions(tx, { userId: account.id }, 'account erased');
    await forgetFailedSignIns(tx, account.email);
    summary = {
      'sessions.revoked': revoked.length,
      ...(await eraseIdentityRecords(tx, deps.personKeys, account)),
      'outbox.purged': (
        await purgeSentEventsAbout(tx, eventStore, { userId: account.id, email: account.email })
      ).purged,
    };
  }
  await completeStep(tx, request.id, 'identity', { summary });
  await updatePrivacyRequest(tx, request.id, { status: 'COMPLETED', completedAt: new Date() });
  // Last, in the same transaction: the user's data key destroyed, so every copy of what was
  // sealed under it (backups included) can never be read again (crypto-shredding).
  await deps.personKeys.vault.shred(tx, request.userId);
  // And the guest key of their address: invitations sent to it before they had an account.
  if (account) await deps.guestVault.shred(tx, inviteeOf(deps.personKeys, account.email));
  deps.log.warn({ security: true, requestId: request.id, userId: request.userId }, 'account erased');
}

/**
 * Requests still in progress after `retryMs` are published again (a new event, the same request):
 * a step lost to a crash or an outage is taken again, and services that answered already answer
 * again, which changes nothing here. Archives past their time are deleted, and identity's relayed
 * erasure requests of completed erasures (they carry the address) purged.
 */
export async function sweepPrivacyRequests(
  deps: { db: Database; outbox: Outbox; dataKeys: KeyRing; log: Logger; personKeys: PersonKeys },
  retryMs: number,
) {
  const stalled = await stalledRequests(deps.db, new Date(Date.now() - retryMs));
  for (const request of stalled) {
    await deps.db.transaction(async (tx) => {
      const state = await lockPrivacyRequest(tx, request.id);
      if (state?.request.status !== 'IN_PROGRESS') return;
      await askAgain(tx, deps, state.request);
    });
  }
  const expired = await expireArchives(deps.db, new Date());
  const purged = await deps.db.transaction((tx) => purgeAnsweredErasureRequests(tx));
  if (stalled.length || expired.length || purged)
    deps.log.info({ asked: stalled.length, expired: expired.length, purged }, 'privacy requests swept');
  return { asked: stalled.length, expired: expired.length, purged };
}

async function askAgain(
  tx: Transaction,
  deps: { outbox: Outbox; dataKeys: KeyRing; personKeys: PersonKeys },
  request: PrivacyRequestRow,
) {
  if (request.kind === 'EXPORT') {
    const privateKey = deps.dataKeys.decrypt(
      request.privateKeySealed!,
      columnAad(PRIVATE_KEY_COLUMN, request.id),
    );
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    const account = await accountOf(tx, deps.personKeys, request.userId);
    await deps.outbox.publish(tx, dataExportRequested, request.id, {
      requestId: request.id,
      userId: request.userId,
      publicKey,
      verifiedEmail: verifiedEmailOf(account),
    });
    return;
  }
  const account = await accountOf(tx, deps.personKeys, request.userId);
  if (!account) return;
  await deps.outbox.publish(tx, accountErasureRequested, request.id, {
    requestId: request.id,
    userId: request.userId,
    email: account.email,
  });
}

/** The sweep, every `retryMs` (PRIVACY_REQUEST_RETRY_MS). */
export function startPrivacyRequestSweep(
  deps: { db: Database; outbox: Outbox; dataKeys: KeyRing; log: Logger; personKeys: PersonKeys },
  retryMs: number,
): { stop(): Promise<void> } {
  return runPeriodically(
    retryMs,
    () => sweepPrivacyRequests(deps, retryMs).then(() => undefined),
    (error) => deps.log.error({ err: error }, 'sweeping privacy requests failed'),
  );
}
