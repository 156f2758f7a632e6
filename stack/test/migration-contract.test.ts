/**
 * Issue 19, expand/contract: a migration after the last release (schema/released-migrations.json)
 * may only expand, since the previous release keeps running on the migrated schema during a
 * blue-green switch. Contract steps need a deprecation shipped in a released migration first.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkMigrations,
  type Migration,
  migrationsIn,
  type ReleasedMigrations,
  readReleased,
} from '../../schema/check-migrations.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const INIT = `CREATE TABLE "orders"."orders" (
	"id" uuid PRIMARY KEY NOT NULL,
	"note" text,
	"legacy_code" text,
	"quantity" integer
);
--> statement-breakpoint
CREATE TABLE "orders"."old_holds" ("id" uuid PRIMARY KEY NOT NULL);`;

/** A release that shipped `shipped` (orders' migrations), then `fresh` written after it. */
function check(shipped: Record<string, string>, fresh: Record<string, string>): string[] {
  const released: ReleasedMigrations = {
    release: 'v1',
    migrations: {
      orders: Object.fromEntries(Object.entries(shipped).map(([file, sql]) => [file, sha256(sql)])),
    },
  };
  const migrations: Migration[] = Object.entries({ ...shipped, ...fresh }).map(([file, sql]) => ({
    subgraph: 'orders',
    file,
    sql,
  }));
  return checkMigrations(migrations, released);
}

describe('the expand/contract check', () => {
  it('passes on the repository: every migration since the last release only expands (npm run migrations:check)', () => {
    const released = readReleased();
    const migrations = migrationsIn();
    expect(checkMigrations(migrations, released)).toEqual([]);
    // The baseline names every subgraph that has migrations.
    expect(Object.keys(released.migrations).sort()).toEqual(
      [...new Set(migrations.map((m) => m.subgraph))].sort(),
    );
  });

  it('refuses each contract step on what the previous release still uses', () => {
    const problems = check(
      { '0000_init.sql': INIT },
      {
        '0001_contract.sql': [
          'DROP TABLE "orders"."old_holds" CASCADE;',
          'ALTER TABLE "orders"."orders" DROP COLUMN "note";',
          'ALTER TABLE "orders"."orders" RENAME COLUMN "legacy_code" TO "code";',
          'ALTER TABLE orders.orders RENAME TO purchases;',
          'ALTER TABLE "orders"."orders" ALTER COLUMN "quantity" SET DATA TYPE smallint;',
          'ALTER TABLE "orders"."orders" ALTER COLUMN "quantity" SET NOT NULL;',
          'ALTER TABLE "orders"."orders" ADD COLUMN "currency" text NOT NULL;',
        ].join('--> statement-breakpoint\n'),
      },
    );
    expect(problems.map((problem) => problem.replace(/, which.*$/, ''))).toEqual([
      'orders/0001_contract.sql: drops the table orders.old_holds',
      'orders/0001_contract.sql: drops the column orders.orders.note',
      'orders/0001_contract.sql: renames the column orders.orders.legacy_code',
      'orders/0001_contract.sql: renames the table orders.orders',
      'orders/0001_contract.sql: changes the type to smallint orders.orders.quantity',
      'orders/0001_contract.sql: sets NOT NULL orders.orders.quantity',
      'orders/0001_contract.sql: adds a NOT NULL column without a default orders.orders.currency',
    ]);
  });

  it('lets expand steps through: new tables and nullable or defaulted columns, widening to text, dropped constraints and indexes', () => {
    expect(
      check(
        { '0000_init.sql': INIT },
        {
          '0001_expand.sql': `CREATE TABLE "orders"."refunds" ("id" uuid PRIMARY KEY NOT NULL);
--> statement-breakpoint
ALTER TABLE "orders"."refunds" ADD COLUMN "amount" integer NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "currency" text DEFAULT 'EUR' NOT NULL;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "coupon" text;--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "legacy_code" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "orders"."orders" DROP CONSTRAINT "orders_quantity_positive";--> statement-breakpoint
ALTER TABLE "orders"."orders" ALTER COLUMN "quantity" DROP NOT NULL;--> statement-breakpoint
DROP INDEX "orders"."orders_note_idx";`,
        },
      ),
    ).toEqual([]);
  });

  it('allows the contract step once a released migration declared it deprecated, not in the same release', () => {
    const deprecate = `COMMENT ON COLUMN "orders"."orders"."note" IS 'deprecated: read nowhere since v1';
--> statement-breakpoint
COMMENT ON TABLE "orders"."old_holds" IS 'deprecated: replaced by reservations';`;
    const contract = `ALTER TABLE "orders"."orders" DROP COLUMN "note";--> statement-breakpoint
DROP TABLE "orders"."old_holds";`;
    expect(
      check({ '0000_init.sql': INIT, '0001_deprecate.sql': deprecate }, { '0002_contract.sql': contract }),
    ).toEqual([]);
    // Deprecated and dropped before any release ran without it: the previous release still reads it.
    expect(
      check({ '0000_init.sql': INIT }, { '0001_deprecate.sql': deprecate, '0002_contract.sql': contract }),
    ).toHaveLength(2);
  });

  it('refuses a shipped migration edited or removed', () => {
    const released: ReleasedMigrations = {
      release: 'v1',
      migrations: { orders: { '0000_init.sql': sha256(INIT), '0001_gone.sql': sha256('') } },
    };
    expect(
      checkMigrations([{ subgraph: 'orders', file: '0000_init.sql', sql: `${INIT}\n-- edited` }], released),
    ).toEqual([
      'orders/0001_gone.sql: shipped in v1, but is gone',
      'orders/0000_init.sql: shipped in v1, but was edited since',
    ]);
  });
});
