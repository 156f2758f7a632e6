import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Expand/contract: during a blue-green switch the previous release (blue) runs on the schema the
 * new one (green) migrated, so a migration after the last release may only expand. A contract step
 * (dropping or renaming a table or column, changing a column's type other than to `text`, SET NOT
 * NULL, or a NOT NULL column added without a default) is refused unless a *released* migration
 * declared what it touches deprecated with a PostgreSQL comment:
 *
 *   COMMENT ON COLUMN "orders"."orders"."legacy_note" IS 'deprecated: read nowhere since 2027.01';
 *   COMMENT ON TABLE "orders"."old_holds" IS 'deprecated: replaced by reservations';
 *
 * so the release that stops using it ships first and the one after it contracts. What shipped is
 * schema/released-migrations.json: each subgraph's migrations in the last release, with their
 * SHA-256 (a shipped migration is never edited), written by `npm run migrations:release -- <git rev>`.
 */

export const RELEASED_PATH = new URL('./released-migrations.json', import.meta.url);
export const SUBGRAPHS_DIR = fileURLToPath(new URL('../subgraphs/', import.meta.url));

export interface ReleasedMigrations {
  /** The git revision (a tag, or a commit) the release was cut from. */
  release: string;
  /** Per subgraph, each shipped migration's file name → its SHA-256. */
  migrations: Record<string, Record<string, string>>;
}

/** One migration: its subgraph, file name and SQL. */
export interface Migration {
  subgraph: string;
  file: string;
  sql: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Every subgraph's SQL migrations under `subgraphsDir`, in the order they apply. */
export function migrationsIn(subgraphsDir = SUBGRAPHS_DIR): Migration[] {
  return readdirSync(subgraphsDir)
    .sort()
    .flatMap((subgraph) => {
      const dir = path.join(subgraphsDir, subgraph, 'drizzle');
      let files: string[];
      try {
        files = readdirSync(dir).filter((file) => file.endsWith('.sql'));
      } catch {
        return [];
      }
      return files
        .sort()
        .map((file) => ({ subgraph, file, sql: readFileSync(path.join(dir, file), 'utf8') }));
    });
}

const IDENT = String.raw`(?:"[^"]+"|[A-Za-z_][\w$]*)`;
const QUALIFIED = String.raw`(?:${IDENT}\.)?${IDENT}`;
const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1) : ident.toLowerCase());

/** `schema.table` of a possibly unqualified name; a subgraph's tables live in its own schema. */
function tableName(qualified: string, subgraph: string): string {
  const parts = qualified.match(new RegExp(IDENT, 'g'))!.map(unquote);
  return parts.length === 2 ? parts.join('.') : `${subgraph}.${parts[0]}`;
}

/** The statements of a migration, comments removed, whitespace collapsed. */
function statementsOf(sql: string): string[] {
  return sql
    .split(/--> statement-breakpoint|;\s*(?:\n|$)/)
    .map((statement) =>
      statement
        .split('\n')
        .map((line) => line.replace(/--.*$/, ''))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim()
        .replace(/;$/, ''),
    )
    .filter(Boolean);
}

/** The comma-separated actions of one ALTER TABLE, commas inside parentheses kept. */
function actionsOf(text: string): string[] {
  const actions: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      actions.push(text.slice(start, index).trim());
      start = index + 1;
    }
  }
  actions.push(text.slice(start).trim());
  return actions;
}

/** ALTER TABLE actions on a column (its name the first group) and the contract step each is, if any. */
const COLUMN_STEPS: Array<[RegExp, (match: RegExpExecArray) => string | undefined]> = [
  [/^DROP (?:CONSTRAINT|DEFAULT|NOT NULL|IDENTITY|EXPRESSION)\b/i, () => undefined],
  [new RegExp(String.raw`^DROP (?:COLUMN )?(?:IF EXISTS )?(${IDENT})`, 'i'), () => 'drops the column'],
  [/^RENAME CONSTRAINT /i, () => undefined],
  [new RegExp(String.raw`^RENAME (?:COLUMN )?(${IDENT}) TO `, 'i'), () => 'renames the column'],
  [
    new RegExp(String.raw`^ALTER (?:COLUMN )?(${IDENT}) (?:SET DATA )?TYPE (\S+)`, 'i'),
    // To text widens whatever it was; any other change may narrow it, or change what old code reads.
    (match) => (/^text$/i.test(match[2]!) ? undefined : `changes the type to ${match[2]}`),
  ],
  [new RegExp(String.raw`^ALTER (?:COLUMN )?(${IDENT}) SET NOT NULL`, 'i'), () => 'sets NOT NULL'],
  [
    new RegExp(String.raw`^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(${IDENT}) (.+)$`, 'i'),
    // The previous release inserts rows without it.
    (match) =>
      /\bNOT NULL\b/i.test(match[2]!) && !/\b(DEFAULT|GENERATED)\b/i.test(match[2]!)
        ? 'adds a NOT NULL column without a default'
        : undefined,
  ],
];

/** What one contract step touches: a table (`schema.table`) or a column (`schema.table.column`). */
export interface ContractStep {
  object: string;
  step: string;
}

/** The contract steps of a migration's SQL. */
export function contractStepsOf(sql: string, subgraph: string): ContractStep[] {
  const steps: ContractStep[] = [];
  for (const statement of statementsOf(sql)) {
    const dropTables = /^DROP TABLE (?:IF EXISTS )?(.+?)(?: CASCADE| RESTRICT)?$/i.exec(statement);
    if (dropTables) {
      for (const table of dropTables[1]!.split(','))
        steps.push({ object: tableName(table.trim(), subgraph), step: 'drops the table' });
      continue;
    }
    const alter = new RegExp(
      String.raw`^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(${QUALIFIED}) (.+)$`,
      'i',
    ).exec(statement);
    if (!alter) continue;
    const table = tableName(alter[1]!, subgraph);
    for (const action of actionsOf(alter[2]!)) {
      if (/^RENAME TO /i.test(action)) {
        steps.push({ object: table, step: 'renames the table' });
        continue;
      }
      for (const [pattern, step] of COLUMN_STEPS) {
        const match = pattern.exec(action);
        if (!match) continue;
        const described = step(match);
        if (described) steps.push({ object: `${table}.${unquote(match[1]!)}`, step: described });
        break;
      }
    }
  }
  return steps;
}

/** Tables and columns a migration declares deprecated (`COMMENT ON … IS 'deprecated…'`). */
export function deprecationsOf(sql: string, subgraph: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(
    String.raw`COMMENT ON (TABLE|COLUMN) (${QUALIFIED}(?:\.${IDENT})?) IS '\s*deprecated`,
    'gi',
  );
  for (const statement of statementsOf(sql)) {
    for (const match of statement.matchAll(pattern)) {
      const parts = match[2]!.match(new RegExp(IDENT, 'g'))!.map(unquote);
      if (match[1]!.toUpperCase() === 'TABLE') found.push(tableName(match[2]!, subgraph));
      else found.push(parts.length === 3 ? parts.join('.') : `${subgraph}.${parts.join('.')}`);
    }
  }
  return found;
}

function createdTablesOf(sql: string, subgraph: string): string[] {
  const pattern = new RegExp(String.raw`^CREATE TABLE (?:IF NOT EXISTS )?(${QUALIFIED})`, 'i');
  return statementsOf(sql).flatMap((statement) => {
    const match = pattern.exec(statement);
    return match ? [tableName(match[1]!, subgraph)] : [];
  });
}

/**
 * Why the migrations in `migrations` cannot ship after `released`: a released migration edited or
 * gone, or a new one contracting what the previous release may still use. Empty: they can.
 */
export function checkMigrations(migrations: Migration[], released: ReleasedMigrations): string[] {
  const problems: string[] = [];
  const deprecated = new Set<string>();
  const present = new Set(migrations.map(({ subgraph, file }) => `${subgraph}/${file}`));
  for (const [subgraph, files] of Object.entries(released.migrations)) {
    for (const file of Object.keys(files)) {
      if (!present.has(`${subgraph}/${file}`))
        problems.push(`${subgraph}/${file}: shipped in ${released.release}, but is gone`);
    }
  }
  const fresh: Migration[] = [];
  for (const migration of migrations) {
    const shipped = released.migrations[migration.subgraph]?.[migration.file];
    if (shipped === undefined) {
      fresh.push(migration);
      continue;
    }
    if (shipped !== sha256(migration.sql))
      problems.push(
        `${migration.subgraph}/${migration.file}: shipped in ${released.release}, but was edited since`,
      );
    for (const object of deprecationsOf(migration.sql, migration.subgraph)) deprecated.add(object);
  }
  // Tables the previous release never knew: changing them is no contract.
  const unreleased = new Set(fresh.flatMap(({ sql, subgraph }) => createdTablesOf(sql, subgraph)));
  for (const migration of fresh) {
    for (const { object, step } of contractStepsOf(migration.sql, migration.subgraph)) {
      const table = object.split('.').slice(0, 2).join('.');
      if (deprecated.has(object) || deprecated.has(table) || unreleased.has(table)) continue;
      problems.push(
        `${migration.subgraph}/${migration.file}: ${step} ${object}, which ${released.release} may still use ` +
          '(expand first; contract after a release declared it deprecated)',
      );
    }
  }
  return problems;
}

/** The migrations as of git revision `rev`, with their hashes: what `rev` ships. */
export function releasedAt(rev: string, subgraphsDir = SUBGRAPHS_DIR): ReleasedMigrations {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: subgraphsDir, encoding: 'utf8' });
  const migrations: ReleasedMigrations['migrations'] = {};
  const files = git('ls-tree', '-r', '--name-only', rev, '--', '.')
    .split('\n')
    .filter((file) => /^[^/]+\/drizzle\/[^/]+\.sql$/.test(file))
    .sort();
  for (const file of files) {
    const [subgraph, , name] = file.split('/') as [string, string, string];
    migrations[subgraph] ??= {};
    migrations[subgraph][name] = sha256(git('show', `${rev}:./${file}`));
  }
  const commit = git('rev-parse', '--short', rev).trim();
  return { release: rev === commit ? rev : `${rev} (${commit})`, migrations };
}

export const readReleased = (): ReleasedMigrations => JSON.parse(readFileSync(RELEASED_PATH, 'utf8'));

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, rev] = process.argv.slice(2);
  if (command === 'release' && rev) {
    writeFileSync(RELEASED_PATH, `${JSON.stringify(releasedAt(rev), null, 2)}\n`);
    console.log(`wrote ${RELEASED_PATH.pathname} for ${rev}`);
  } else if (command === 'check') {
    const released = readReleased();
    const problems = checkMigrations(migrationsIn(), released);
    for (const problem of problems) console.log(problem);
    console.log(
      problems.length
        ? `${problems.length} problem(s)`
        : `every migration since ${released.release} only expands`,
    );
    process.exitCode = problems.length ? 1 : 0;
  } else {
    console.error('usage: check-migrations.ts check | check-migrations.ts release <git rev>');
    process.exitCode = 2;
  }
}
