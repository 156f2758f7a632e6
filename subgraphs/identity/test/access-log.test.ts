import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { auditChainAnchored } from '@bilten/contracts/identity';
import { personalDataAccessed as ordersPersonalDataAccessed } from '@bilten/contracts/orders';
import { ACCESS_LOG_GENESIS, type AccessActorKind, accessLogRowHash, newEvent } from '@bilten/platform';
import { insertAccounts, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { codeOf } from './support.ts';

let subgraph: TestSubgraph;
let anchors: Awaited<ReturnType<typeof recordEvents<typeof auditChainAnchored.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'jetstream', { env: { AUDIT_ANCHOR_MS: '300' } });
  anchors = await recordEvents(subgraph.testBus.bus, auditChainAnchored);
});

afterAll(async () => {
  await subgraph?.dispose();
});

async function newUser(roles: string[] = []) {
  const id = randomUUID();
  await insertAccounts(subgraph.sql, [{ id, email: `${id}@example.com`, displayName: 'Someone', roles }]);
  return { id, headers: await subgraph.bearer({ sub: id, roles }) };
}

const USER = `query($id: ID!) { user(id: $id) { id email } }`;
const ACCESS_LOG = `query($filter: AccessLogFilter, $first: Int, $after: String) {
  accessLog(filter: $filter, first: $first, after: $after) {
    edges { cursor node { seq actorKind actorId subjectUserId purpose fields resource service requestId rowHash } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const MY_LOG = `query { myDataAccessLog { edges { node { actorKind actorId purpose fields resource service } } } }`;

type Entry = {
  seq: number;
  actorKind: string;
  actorId: string | null;
  subjectUserId: string;
  purpose: string;
  fields: string[];
  resource: string;
  service: string;
};
type LogPage = { edges: Array<{ cursor: string; node: Entry }>; pageInfo: { hasNextPage: boolean } };

const verifyCli = fileURLToPath(new URL('../../../stack/src/audit-verify.ts', import.meta.url));
const auditVerify = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', verifyCli, ...args], {
    env: { ...process.env, DATABASE_URL: subgraph.database.url },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );

interface StoredRow {
  id: string;
  seq: string;
  /** Milliseconds since the epoch (exact: the column keeps milliseconds). */
  occurred_ms: string;
  actor_id: string | null;
  actor_kind: AccessActorKind;
  subject_user_id: string;
  organization_id: string | null;
  purpose: string;
  fields: string[];
  resource: string;
  request_id: string | null;
  service: string;
}

const chainLength = async () =>
  (await subgraph.sql<[{ n: number }]>`select count(*)::int as n from identity.access_log`)[0].n;

describe('the access log (issue 18)', () => {
  let admin: Awaited<ReturnType<typeof newUser>>;
  let subject: Awaited<ReturnType<typeof newUser>>;

  beforeAll(async () => {
    admin = await newUser(['ADMIN']);
    subject = await newUser();
  });

  it('records an admin reading an account; nobody reading their own', async () => {
    const before = await chainLength();
    const own = await subgraph.gql<{ user: { email: string } }>(USER, { id: subject.id }, subject.headers);
    expect(own.data?.user.email).toBe(`${subject.id}@example.com`);
    expect(await chainLength()).toBe(before);

    const read = await subgraph.gql<{ user: { email: string } }>(USER, { id: subject.id }, admin.headers);
    expect(read.data?.user.email).toBe(`${subject.id}@example.com`);
    const { data } = await subgraph.gql<{ accessLog: LogPage }>(
      ACCESS_LOG,
      { filter: { subjectUserId: subject.id } },
      admin.headers,
    );
    expect(data?.accessLog.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({
        actorKind: 'ADMIN',
        actorId: admin.id,
        subjectUserId: subject.id,
        purpose: 'admin-review',
        fields: ['email', 'displayName'],
        resource: `user:${subject.id}`,
        service: 'identity',
      }),
    ]);
  });

  it('shows users who read their data, without the reader’s id; accessLog is for admins only', async () => {
    const mine = await subgraph.gql<{ myDataAccessLog: LogPage }>(MY_LOG, {}, subject.headers);
    expect(mine.data?.myDataAccessLog.edges[0]?.node).toMatchObject({
      actorKind: 'ADMIN',
      actorId: null,
      purpose: 'admin-review',
    });
    expect(codeOf(await subgraph.gql(ACCESS_LOG, {}, subject.headers))).toBe('FORBIDDEN');
    expect(codeOf(await subgraph.gql(MY_LOG, {}))).toBe('UNAUTHENTICATED');
    const badFilter = await subgraph.gql(ACCESS_LOG, { filter: { subjectUserId: 'nope' } }, admin.headers);
    expect(codeOf(badFilter)).toBe('BAD_USER_INPUT');
    expect(codeOf(await subgraph.gql(ACCESS_LOG, { after: '!!' }, admin.headers))).toBe('BAD_USER_INPUT');
  });

  it('keeps one gap-free chain under 20 concurrent appends, and pages through it', {
    timeout: 60_000,
  }, async () => {
    const before = await chainLength();
    const readers = await Promise.all(Array.from({ length: 4 }, () => newUser(['ADMIN'])));
    const reads = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        subgraph.gql(USER, { id: subject.id }, readers[i % readers.length]!.headers),
      ),
    );
    expect(reads.every((read) => !read.errors)).toBe(true);
    expect(await chainLength()).toBe(before + 20);
    const seqs = await subgraph.sql<Array<{ seq: string }>>`select seq from identity.access_log order by seq`;
    expect(seqs.map((row) => Number(row.seq))).toEqual(seqs.map((_, i) => i + 1));

    const first = await subgraph.gql<{ accessLog: LogPage }>(ACCESS_LOG, { first: 5 }, admin.headers);
    const next = await subgraph.gql<{ accessLog: LogPage }>(
      ACCESS_LOG,
      { first: 5, after: first.data!.accessLog.edges.at(-1)!.cursor },
      admin.headers,
    );
    const pages = [...first.data!.accessLog.edges, ...next.data!.accessLog.edges].map(
      (edge) => edge.node.seq,
    );
    expect(pages).toEqual(Array.from({ length: 10 }, (_, i) => before + 20 - i));

    const verified = await auditVerify();
    expect(verified.stdout).toContain(`OK: ${before + 20} entries`);
    expect(verified.code).toBe(0);
  });

  it('appends what orders reports, every access of an event, once however often it is delivered', async () => {
    const before = await chainLength();
    const access = (resource: string) => ({
      actorId: admin.id,
      actorKind: 'user' as const,
      subjectUserId: subject.id,
      organizationId: randomUUID(),
      purpose: 'attendee-list',
      fields: ['buyer.name', 'buyer.email'],
      resource,
      requestId: 'req-1',
      occurredAt: new Date().toISOString(),
    });
    // One request read two orders: one event carries both reads.
    const event = newEvent(ordersPersonalDataAccessed, subject.id, 1, {
      accesses: [access(`order:${randomUUID()}`), access(`order:${randomUUID()}`)],
    });
    await subgraph.testBus.bus.publish(event);
    await waitFor(async () => (await chainLength()) === before + 2);
    await subgraph.testBus.bus.publish(event);
    // The second copy has the same id (a redelivery): wait until identity has seen it, then count.
    await waitFor(
      async () =>
        (
          await subgraph.sql<[{ n: number }]>`
            select count(*)::int as n from identity.inbox where event_id = ${event.id}`
        )[0].n === 1,
    );
    const [row] = await subgraph.sql`
      select service, purpose, fields from identity.access_log where seq = ${before + 1}`;
    expect(row).toEqual({
      service: 'orders',
      purpose: 'attendee-list',
      fields: ['buyer.name', 'buyer.email'],
    });
    expect(await chainLength()).toBe(before + 2);
  });

  it('anchors the chain head on bilten.identity.audit.anchor when it moved', {
    timeout: 60_000,
  }, async () => {
    const [head] = await subgraph.sql<[{ seq: string; row_hash: string }]>`
      select seq, row_hash from identity.access_log order by seq desc limit 1`;
    const anchor = await waitFor(async () => anchors.find((event) => event.payload.seq === Number(head.seq)));
    expect(anchor.payload.rowHash).toBe(head.row_hash);
    const verified = await auditVerify('--anchor', `${head.seq}:${head.row_hash}`);
    expect(verified.stdout).toContain(`anchor found at seq ${head.seq}`);
    expect(verified.code).toBe(0);
  });

  it('is refused every UPDATE, DELETE and TRUNCATE by the database', { timeout: 60_000 }, async () => {
    const refused = /append-only/;
    await expect(subgraph.sql`update identity.access_log set purpose = 'x' where seq = 1`).rejects.toThrow(
      refused,
    );
    await expect(subgraph.sql`delete from identity.access_log where seq = 1`).rejects.toThrow(refused);
    await expect(subgraph.sql`truncate identity.access_log`).rejects.toThrow(refused);
    expect((await auditVerify()).code).toBe(0);
  });

  it('audit:verify finds an edit made past the trigger, at the edited seq', { timeout: 90_000 }, async () => {
    const anchored = anchors.at(-1)!.payload;
    await subgraph.sql.begin(async (tx) => {
      await tx`alter table identity.access_log disable trigger access_log_append_only`;
      await tx`update identity.access_log set purpose = 'nothing-to-see' where seq = 3`;
      await tx`alter table identity.access_log enable trigger access_log_append_only`;
    });
    const verified = await auditVerify();
    expect(verified.code).toBe(1);
    expect(verified.stderr).toContain('BROKEN at seq 3: hash mismatch');

    // A careful forger re-hashes every row from there on: the chain holds again, the anchor not.
    await subgraph.sql.begin(async (tx) => {
      await tx`alter table identity.access_log disable trigger access_log_append_only`;
      const rows = await tx<StoredRow[]>`
        select *, (extract(epoch from occurred_at) * 1000)::bigint::text as occurred_ms
        from identity.access_log order by seq`;
      let prevHash = ACCESS_LOG_GENESIS;
      for (const row of rows) {
        const rowHash = accessLogRowHash(prevHash, {
          id: row.id,
          seq: Number(row.seq),
          occurredAt: new Date(Number(row.occurred_ms)),
          actorId: row.actor_id,
          actorKind: row.actor_kind,
          subjectUserId: row.subject_user_id,
          organizationId: row.organization_id,
          purpose: row.purpose,
          fields: row.fields,
          resource: row.resource,
          requestId: row.request_id,
          service: row.service,
        });
        await tx`update identity.access_log set prev_hash = ${prevHash}, row_hash = ${rowHash} where id = ${row.id}`;
        prevHash = rowHash;
      }
      await tx`alter table identity.access_log enable trigger access_log_append_only`;
    });
    expect((await auditVerify()).code).toBe(0);
    const againstAnchor = await auditVerify('--anchor', anchored.rowHash);
    expect(againstAnchor.code).toBe(1);
    expect(againstAnchor.stderr).toContain('is not in the chain');
    expect((await auditVerify('--anchor', 'not-a-hash')).code).toBe(2);
  });
});
