import {
  columnAad,
  createExportKeyPair,
  type Database,
  DomainError,
  decodeCursor,
  type EncryptedColumn,
  type KeyRing,
  mutationRule,
  type PersonKeys,
  pageSize,
  requireAdmin,
  requireUser,
  sealExportPart,
  type Transaction,
  toConnection,
  type UserError,
  uuidInput,
} from '@bilten/platform';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { usersByIds } from '../db/accounts.ts';
import {
  accountOf,
  completeStep,
  identityRecordsOf,
  insertPrivacyRequest,
  lockPrivacyRequest,
  lockUsersRequests,
  organizationsSolelyOwnedBy,
  type PrivacyRequestRow,
  type PrivacyRequestStatus,
  privacyRequestById,
  privacyRequestPage,
  stepsOf,
  updatePrivacyRequest,
} from '../db/privacy-requests.ts';
import { PRIVACY_REQUEST_STATUSES } from '../db/schema.ts';
import { accountErasureRequested, dataExportRequested } from '../events.ts';
import { checkPassword } from './password-guard.ts';
import { newToken, tokenHash } from './secrets.ts';
import { alertAdminDataExport } from './security-monitoring.ts';

// A user's privacy requests (issue 18): a copy of everything Bilten holds about them (article 15)
// and their erasure (article 17), each a saga over the six subgraphs (privacy-saga.ts). This file
// holds what users and admins ask for; the saga's answers and completion live beside it.

/** Every subgraph takes a step; identity's own comes first (export) or last (erasure). */
export const PRIVACY_SERVICES = [
  'identity',
  'catalog',
  'orders',
  'billing',
  'messaging',
  'branding',
] as const;

/** Exports one user may ask for per day: each has every service collect everything. */
export const EXPORTS_PER_DAY = 3;
/** How long an assembled archive waits for its download. */
export const ARCHIVE_LIFETIME_MS = 7 * 24 * 3600_000;

/** Identity's encrypted columns (under DATA_ENCRYPTION_KEYS, bound to the request's id). */
export const PRIVATE_KEY_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'privacy_requests',
  column: 'private_key_sealed',
};
export const ARCHIVE_COLUMN: EncryptedColumn = {
  schema: 'identity',
  table: 'privacy_requests',
  column: 'archive_sealed',
};

// The whole context: the password check (password-guard.ts) takes most of it.
type Ctx = Context;
type RequestPayload = { request: PrivacyRequestRow | null; errors: UserError[] };
type LinkPayload = { url: string | null; expiresAt: Date | null; errors: UserError[] };

/**
 * The address the other services may export guest records under (orders bought without signing
 * in): only a proven one, so claiming an address opens nobody else's orders.
 */
export const verifiedEmailOf = (account: { email: string; emailVerifiedAt: Date | null } | undefined) =>
  account?.emailVerifiedAt ? account.email : undefined;

/** The account, without secrets, as it appears in the archive. */
async function identityPart(tx: Transaction, keys: PersonKeys, userId: string) {
  const account = await accountOf(tx, keys, userId);
  if (!account) throw new DomainError('NOT_FOUND', 'the account no longer exists');
  const { passwordHash: _secret, ...user } = account;
  return { account: user, ...(await identityRecordsOf(tx, keys, userId)) };
}

/**
 * `requestDataExport`: one at a time, EXPORTS_PER_DAY a day. A one-time key pair: the private half
 * stays here (encrypted) until the parts are in; identity's own part is collected and sealed now,
 * in the request's transaction, and the other five services are asked.
 */
export async function requestDataExport(ctx: Ctx): Promise<RequestPayload> {
  const user = requireUser(ctx.viewer);
  const keys = createExportKeyPair();
  return ctx.db.transaction(async (tx) => {
    const since = new Date(Date.now() - 24 * 3600_000);
    const recent = await lockUsersRequests(tx, user.userId, 'EXPORT', since);
    if (recent.some((request) => request.status === 'IN_PROGRESS')) {
      const message = 'an export is already being prepared: follow it in myPrivacyRequests';
      return { request: null, errors: [{ code: 'CONFLICT', message }] };
    }
    if (recent.filter((request) => request.requestedAt > since).length >= EXPORTS_PER_DAY)
      throw new DomainError('RATE_LIMITED', `at most ${EXPORTS_PER_DAY} exports a day; try again tomorrow`);
    const id = uuidv7();
    const request = await insertPrivacyRequest(
      tx,
      {
        id,
        kind: 'EXPORT',
        userId: user.userId,
        requestedAt: new Date(),
        privateKeySealed: ctx.dataKeys.encrypt(keys.privateKey, columnAad(PRIVATE_KEY_COLUMN, id)),
      },
      PRIVACY_SERVICES,
    );
    const part = await identityPart(tx, ctx.personKeys, user.userId);
    await completeStep(tx, id, 'identity', {
      sealedPart: sealExportPart(keys.publicKey, { service: 'identity', ...part }),
    });
    await ctx.outbox.publish(tx, dataExportRequested, id, {
      requestId: id,
      userId: user.userId,
      publicKey: keys.publicKey,
      verifiedEmail: verifiedEmailOf(await accountOf(tx, ctx.personKeys, user.userId)),
    });
    // Personal data leaving in bulk at a platform admin's request is always worth an alert.
    if (user.roles.includes('ADMIN'))
      await alertAdminDataExport(tx, ctx.securityMonitor, { adminId: user.userId, requestId: id });
    ctx.log.info({ requestId: id, userId: user.userId }, 'data export requested');
    return { request, errors: [] };
  });
}

/**
 * `requestAccountDeletion`: the current password again (a stolen access token alone must not
 * erase an account), and no organization left without an OWNER. Asking again while one runs
 * answers that one. The account stays usable until every other service has confirmed, so its
 * owner can follow the progress; then identity erases it (privacy-saga.ts).
 */
export const requestAccountDeletion = mutationRule(
  {
    input: z.object({
      confirm: z.literal(true, { error: 'must be true: erasure cannot be undone' }),
      currentPassword: z.string().min(1).max(1000),
    }),
    caller: requireUser,
    invalid: (errors): RequestPayload => ({ request: null, errors }),
  },
  async (ctx: Ctx, input, viewer): Promise<RequestPayload> => {
    const [user] = await usersByIds(ctx.db, ctx.personKeys, [viewer.userId]);
    if (!user || !(await checkPassword(ctx, user.email, user, input.currentPassword))) {
      const field = ['input', 'currentPassword'];
      return {
        request: null,
        errors: [{ code: 'INVALID_INPUT', message: 'the current password is wrong', field }],
      };
    }
    return ctx.db.transaction(async (tx) => {
      const open = await lockUsersRequests(tx, user.id, 'ERASURE', new Date());
      const running = open.find((request) => request.status === 'IN_PROGRESS');
      if (running) return { request: running, errors: [] };
      const owned = await organizationsSolelyOwnedBy(tx, user.id);
      if (owned.length) {
        const names = owned.map((organization) => `"${organization.name}"`).join(', ');
        const message = `you are the only OWNER of ${names}: close it or make another member OWNER first`;
        return { request: null, errors: [{ code: 'CONFLICT', message }] };
      }
      const id = uuidv7();
      const request = await insertPrivacyRequest(
        tx,
        { id, kind: 'ERASURE', userId: user.id, requestedAt: new Date() },
        PRIVACY_SERVICES,
      );
      await ctx.outbox.publish(tx, accountErasureRequested, id, {
        requestId: id,
        userId: user.id,
        email: user.email,
      });
      ctx.log.warn({ security: true, requestId: id, userId: user.id }, 'account erasure requested');
      return { request, errors: [] };
    });
  },
);

/**
 * `createDataExportLink`: a fresh single-use download token for the caller's assembled archive
 * (only its hash is kept, replacing any earlier link's), valid until the archive expires. The URL
 * is answered here once and nowhere else.
 */
export const createDataExportLink = mutationRule(
  {
    input: z.object({ requestId: uuidInput }),
    caller: requireUser,
    invalid: (errors): LinkPayload => ({ url: null, expiresAt: null, errors }),
  },
  async (ctx: Ctx, { requestId }, viewer): Promise<LinkPayload> => {
    const notFound = { code: 'NOT_FOUND' as const, message: 'no such export', field: ['input', 'requestId'] };
    const request = await privacyRequestById(ctx.db, requestId);
    if (!request || request.userId !== viewer.userId || request.kind !== 'EXPORT')
      return { url: null, expiresAt: null, errors: [notFound] };
    if (request.status !== 'COMPLETED' || !request.archiveSealed) {
      const message =
        request.status === 'IN_PROGRESS'
          ? 'the export is still being prepared'
          : 'the export was downloaded or has expired: request a new one';
      return { url: null, expiresAt: null, errors: [{ code: 'CONFLICT' as const, message }] };
    }
    const token = newToken('bx_');
    await ctx.db.transaction((tx) =>
      updatePrivacyRequest(tx, requestId, { downloadTokenHash: tokenHash(token) }),
    );
    const base = ctx.publicGatewayUrl.replace(/\/+$/, '');
    const url = `${base}/privacy/exports/${requestId}?token=${encodeURIComponent(token)}`;
    return { url, expiresAt: request.downloadExpiresAt, errors: [] };
  },
);

type PageArgs = { first?: number | null; after?: string | null };

async function page(
  ctx: Pick<Context, 'db'>,
  filter: Parameters<typeof privacyRequestPage>[1],
  args: PageArgs,
) {
  const size = pageSize(args.first);
  const before = args.after ? decodeCursor(args.after, z.uuid()) : undefined;
  return toConnection(await privacyRequestPage(ctx.db, filter, before, size + 1), size);
}

/** `myPrivacyRequests`: the caller's exports and erasure, newest first. */
export function myPrivacyRequests(ctx: Pick<Context, 'db' | 'viewer'>, args: PageArgs) {
  const user = requireUser(ctx.viewer);
  return page(ctx, { userId: user.userId }, args);
}

/** `privacyRequests(status)`: everyone's, newest first, for platform administrators. */
export function privacyRequests(
  ctx: Pick<Context, 'db' | 'viewer'>,
  args: PageArgs & { status?: string | null },
) {
  requireAdmin(ctx.viewer);
  const status = z.enum(PRIVACY_REQUEST_STATUSES).nullish().safeParse(args.status);
  if (!status.success) throw new DomainError('BAD_USER_INPUT', 'status: not a privacy request status');
  return page(ctx, { status: (status.data ?? undefined) as PrivacyRequestStatus | undefined }, args);
}

/** The steps of a request, by service name; the summaries as name/count pairs. */
export async function privacyRequestSteps(ctx: Pick<Context, 'db'>, request: PrivacyRequestRow) {
  const steps = await stepsOf(ctx.db, [request.id]);
  return steps.map((step) => ({
    service: step.service,
    completedAt: step.completedAt,
    summary: Object.entries(step.summary ?? {}).map(([name, count]) => ({ name, count })),
  }));
}

export type DownloadAnswer =
  | { status: 200; archive: string; fileName: string }
  | { status: 404 | 410; message: string };

/**
 * `GET /privacy/exports/{id}?token=…`: the archive, once. The right token for a request the
 * caller cannot see answers 404 like a wrong one; a used or expired link answers 410. The archive
 * is deleted in the same transaction that reads it.
 */
export async function downloadExport(
  deps: { db: Database; dataKeys: KeyRing },
  requestId: string,
  token: string,
): Promise<DownloadAnswer> {
  return deps.db.transaction(async (tx) => {
    const state = await lockPrivacyRequest(tx, requestId);
    const request = state?.request;
    if (request?.kind !== 'EXPORT') return { status: 404, message: 'no such export' };
    if (request.downloadedAt) return { status: 410, message: 'this export was downloaded already' };
    const matches = request.downloadTokenHash !== null && request.downloadTokenHash === tokenHash(token);
    if (!matches) return { status: 404, message: 'no such export' };
    const expired = !request.archiveSealed || (request.downloadExpiresAt ?? new Date(0)) <= new Date();
    if (expired) return { status: 410, message: 'this export link has expired: request a new export' };
    const archive = deps.dataKeys.decrypt(request.archiveSealed!, columnAad(ARCHIVE_COLUMN, request.id));
    await updatePrivacyRequest(tx, request.id, {
      archiveSealed: null,
      downloadTokenHash: null,
      downloadedAt: new Date(),
    });
    return { status: 200, archive, fileName: `bilten-export-${request.id}.json` };
  });
}
