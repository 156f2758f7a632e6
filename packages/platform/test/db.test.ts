import { createTestDatabase, type TestDatabase } from '@bilten/testkit';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle, deadlineFrom, withDeadline } from '../src/db.ts';
import { DomainError } from '../src/errors.ts';

let database: TestDatabase;
let handle: DatabaseHandle;
beforeAll(async () => {
  database = await createTestDatabase();
  handle = connectDatabase({ url: database.url, poolSize: 1, applicationName: 'db-test' });
  await handle.sql`create table saved (name text primary key)`;
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

const saved = async (name: string) => (await handle.sql`select 1 from saved where name = ${name}`).length;

describe('withDeadline: a transaction its caller gave up on saves nothing', () => {
  it('cancels a statement still running at the deadline, promptly, and rolls back', async () => {
    const db = withDeadline(handle.db, deadlineFrom('300'));
    const started = performance.now();
    const work = db.transaction(async (tx) => {
      await tx.execute(sql`insert into saved values ('cancelled')`);
      await tx.execute(sql`select pg_sleep(5)`);
    });
    await expect(work).rejects.toBeInstanceOf(DomainError);
    await expect(work).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/nothing was saved/),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await saved('cancelled')).toBe(0);
  });

  it('rolls back a transaction whose statements each fit but end past the deadline', async () => {
    const db = withDeadline(handle.db, deadlineFrom('400'));
    const work = db.transaction(async (tx) => {
      await tx.execute(sql`insert into saved values ('late')`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    });
    await expect(work).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await saved('late')).toBe(0);
  });

  it('commits in time, and leaves the connection without the time limit afterwards', async () => {
    const db = withDeadline(handle.db, deadlineFrom('5000'));
    await db.transaction(async (tx) => {
      await tx.execute(sql`insert into saved values ('in time')`);
    });
    expect(await saved('in time')).toBe(1);
    const rows = await handle.db.execute<{ statement_timeout: string }>(sql`show statement_timeout`);
    expect([...rows]).toEqual([{ statement_timeout: '0' }]);
  });

  it('changes nothing without a deadline (no header, or one that is not a number of milliseconds)', async () => {
    for (const header of [undefined, '', '-5', '1e3', 'soon', ['100']]) {
      expect(deadlineFrom(header)).toBeUndefined();
      expect(withDeadline(handle.db, deadlineFrom(header))).toBe(handle.db);
    }
  });
});
