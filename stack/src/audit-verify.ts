/**
 * `DATABASE_URL=postgres://… npm run audit:verify -- [--anchor <row_hash> | --anchor <seq>:<row_hash>]`:
 * proves identity's access log (issue 18). Reads the chain in `seq` order and recomputes every
 * `row_hash = sha256(prev_hash ‖ canonical row)`; prints `OK` with the count and the head, or the
 * first broken `seq` and why (a gap, a `prev_hash` that is not the row before's hash, or a hash
 * that does not match the row: an edit made past the append-only trigger). With `--anchor` (a head
 * published on bilten.identity.audit.anchor), the chain must still hold that hash, at that seq
 * when given: a chain rewritten and re-hashed from some row on no longer does. Exits 0 when the
 * chain holds, 1 when it does not, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import {
  ACCESS_LOG_GENESIS,
  type AccessActorKind,
  accessLogRowHash,
  connectDatabase,
} from '@bilten/platform';

const usage = 'usage: DATABASE_URL=postgres://… npm run audit:verify -- [--anchor [<seq>:]<row_hash>]';
const { values } = parseArgs({ options: { anchor: { type: 'string' }, 'batch-size': { type: 'string' } } });
const anchorMatch =
  values.anchor === undefined ? undefined : /^(?:(\d+):)?([0-9a-f]{64})$/.exec(values.anchor);
const batchSize = Number(values['batch-size'] ?? 1000);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl || anchorMatch === null || !Number.isInteger(batchSize) || batchSize < 1) {
  console.error(usage);
  process.exit(2);
}
const anchor = anchorMatch
  ? { seq: anchorMatch[1] ? Number(anchorMatch[1]) : undefined, rowHash: anchorMatch[2]! }
  : undefined;

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
  /** JSON text: arrays are not parsed on this connection (fetch_types is off). */
  fields_json: string;
  resource: string;
  request_id: string | null;
  service: string;
  prev_hash: string;
  row_hash: string;
}

/** Why `row` breaks the chain after a row hashed `prevHash`, or undefined when it holds. */
function breakOf(row: StoredRow, expectedSeq: number, prevHash: string): string | undefined {
  const seq = Number(row.seq);
  if (seq !== expectedSeq) return `gap: seq ${expectedSeq} is missing (next is ${seq})`;
  if (row.prev_hash !== prevHash) return `prev mismatch: prev_hash is not the hash of seq ${seq - 1}`;
  const recomputed = accessLogRowHash(prevHash, {
    id: row.id,
    seq,
    occurredAt: new Date(Number(row.occurred_ms)),
    actorId: row.actor_id,
    actorKind: row.actor_kind,
    subjectUserId: row.subject_user_id,
    organizationId: row.organization_id,
    purpose: row.purpose,
    fields: JSON.parse(row.fields_json) as string[],
    resource: row.resource,
    requestId: row.request_id,
    service: row.service,
  });
  if (recomputed !== row.row_hash) return 'hash mismatch: the row was changed after it was written';
  return undefined;
}

const database = connectDatabase({ url: databaseUrl, poolSize: 1, applicationName: 'bilten-audit-verify' });
try {
  let expectedSeq = 1;
  let prevHash = ACCESS_LOG_GENESIS;
  let anchorSeenAt: number | undefined;
  let broken: string | undefined;
  // Keyset batches, so the whole log is never in memory at once.
  while (!broken) {
    const rows = await database.sql<StoredRow[]>`
      select *, (extract(epoch from occurred_at) * 1000)::bigint::text as occurred_ms,
        array_to_json(fields)::text as fields_json
      from identity.access_log where seq >= ${expectedSeq} order by seq limit ${batchSize}`;
    for (const row of rows) {
      const why = breakOf(row, expectedSeq, prevHash);
      if (why) {
        broken = `BROKEN at seq ${expectedSeq}: ${why}`;
        break;
      }
      if (anchor && row.row_hash === anchor.rowHash) anchorSeenAt = Number(row.seq);
      prevHash = row.row_hash;
      expectedSeq += 1;
    }
    if (rows.length < batchSize) break;
  }
  const count = expectedSeq - 1;
  if (!broken && anchor && (anchorSeenAt === undefined || (anchor.seq && anchor.seq !== anchorSeenAt))) {
    broken = `BROKEN: anchor ${anchor.seq ? `${anchor.seq}:` : ''}${anchor.rowHash} is not in the chain (it was rewritten)`;
  }
  if (broken) {
    console.error(broken);
    process.exitCode = 1;
  } else {
    const head = count ? `head seq ${count} row_hash ${prevHash}` : 'empty';
    const anchored = anchor ? `, anchor found at seq ${anchorSeenAt}` : '';
    console.log(`OK: ${count} entries, ${head}${anchored}`);
  }
} finally {
  await database.close();
}
