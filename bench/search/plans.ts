/**
 * The SQL a search really runs, and its plans: the statements are recorded while the catalog
 * subgraph serves the request, then replayed under EXPLAIN the way catalog's pool runs them.
 */
import type { Sql } from '@bilten/platform';

export interface Statement {
  sql: string;
  params: unknown[];
}

export interface StatementRecorder {
  /** For the pool's `onStatement` (`startSubgraph(definition, { onStatement })`). */
  onStatement(query: string, parameters: unknown[]): void;
  /**
   * The statements the pool sends, text and parameters as postgres.js sends them, while `work`
   * runs. One recording at a time, and nothing else should use the pool meanwhile.
   */
  record<T>(work: () => Promise<T>): Promise<{ result: T; statements: Statement[] }>;
}

export function statementRecorder(): StatementRecorder {
  let recording: Statement[] | undefined;
  return {
    onStatement(query, parameters) {
      recording?.push({ sql: query, params: [...parameters] });
    },
    async record(work) {
      if (recording) throw new Error('already recording');
      const statements: Statement[] = [];
      recording = statements;
      try {
        return { result: await work(), statements };
      } finally {
        recording = undefined;
      }
    },
  };
}

/** What a statement is for: the page, the count or the ticket types, and how it matches text. */
export function roleOf(statement: Statement): string {
  const text = statement.sql;
  if (/from "catalog"\."search_words"/.test(text)) return 'typo correction (pg_trgm)';
  const target = /from "catalog"\."ticket_types"/.test(text)
    ? 'ticket types'
    : /count\(\*\) over/.test(text)
      ? 'page and count'
      : /count\(\*\)/.test(text)
        ? 'count'
        : 'page';
  return `${target}${/@@ to_tsquery/.test(text) ? ' (words, tsvector)' : ''}`;
}

/** The index a statement should use when it matches text or reads ticket types; else the search's own. */
export function expectedIndexes(statement: Statement, otherwise: string[]): string[] {
  if (/from "catalog"\."ticket_types"/.test(statement.sql)) return ['ticket_types_event_id_idx'];
  // The seeded dictionary has about 130 words: reading it whole is the right plan, no index expected.
  if (/from "catalog"\."search_words"/.test(statement.sql)) return [];
  if (/@@ to_tsquery/.test(statement.sql)) return ['events_search_idx'];
  return otherwise;
}

export interface PlanCheck {
  role: string;
  sql: string;
  params: unknown[];
  expectedIndexes: string[];
  /** Every index the plan reads, in plan order. */
  indexesUsed: string[];
  usesIndex: boolean;
  usesExpectedIndex: boolean;
  seqScanOnEvents: boolean;
  /** A generic plan (the prepared statement's, with $n) rather than one made for these values. */
  genericPlan: boolean;
  executionMs: number;
  ok: boolean;
  plan: string[];
}

/** Parses an EXPLAIN (text format) for index use and sequential scans. */
export function checkPlan(statement: Statement, plan: string[], expected: string[]): PlanCheck {
  const text = plan.join('\n');
  const indexesUsed = [
    ...text.matchAll(
      /(?:Index Scan|Index Only Scan)(?: Backward)? using (\S+) on |Bitmap Index Scan on (\S+)/g,
    ),
  ].map((match) => (match[1] ?? match[2])!);
  const usesIndex = indexesUsed.length > 0;
  const usesExpectedIndex = expected.length === 0 || indexesUsed.some((name) => expected.includes(name));
  const seqScanOnEvents = /Seq Scan on events\b/.test(text);
  const executionMs = Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1] ?? Number.NaN);
  return {
    role: roleOf(statement),
    sql: statement.sql,
    params: statement.params,
    expectedIndexes: expected,
    indexesUsed: [...new Set(indexesUsed)],
    usesIndex,
    usesExpectedIndex,
    seqScanOnEvents,
    genericPlan: /\$\d/.test(text),
    executionMs,
    ok: usesExpectedIndex && !seqScanOnEvents,
    plan,
  };
}

/** A parameter's value as text, as PostgreSQL reads it for a parameter or literal of unknown type. */
export function parameterText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A parameter as an SQL literal of unknown type, which PostgreSQL coerces to the parameter's type. */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  return `'${parameterText(value).replaceAll("'", "''")}'`;
}

/** Executions of a prepared statement before PostgreSQL (plan_cache_mode auto) considers its generic plan. */
const CUSTOM_PLANS = 5;
let prepared = 0;

/**
 * EXPLAIN (ANALYZE, BUFFERS) of each recorded statement, the way catalog's pool runs it: statements
 * with parameters are prepared (platform `connectDatabase` prepares them and caches them per
 * connection), so after a warm-up PostgreSQL may switch to the generic plan; the plan shown is
 * the one of the execution after five, as every request of a long run sees. All run in one
 * transaction, in the recorded order.
 */
export async function explainAsServed(
  sql: Sql,
  statements: Statement[],
  otherwise: string[],
): Promise<PlanCheck[]> {
  return sql.begin(async (tx) => {
    const checks: PlanCheck[] = [];
    for (const statement of statements) {
      let plan: string[];
      if (statement.params.length) {
        const name = `bench_search_${++prepared}`;
        await tx.unsafe(`prepare ${name} as ${statement.sql}`);
        const execute = `execute ${name}(${statement.params.map(literal).join(', ')})`;
        for (let n = 0; n < CUSTOM_PLANS; n++) await tx.unsafe(execute);
        plan = (await tx.unsafe(`explain (analyze, buffers) ${execute}`)).map((row) =>
          String(row['QUERY PLAN']),
        );
        await tx.unsafe(`deallocate ${name}`);
      } else {
        const rows = await tx.unsafe(`explain (analyze, buffers) ${statement.sql}`);
        plan = rows.map((row) => String(row['QUERY PLAN']));
      }
      checks.push(checkPlan(statement, plan, expectedIndexes(statement, otherwise)));
    }
    return checks;
  });
}
