/**
 * k8s/monitoring: the Prometheus rules and their runbook. No Prometheus runs here, so this checks the
 * rules against the code they watch: every metric an expression names is one a service exports
 * (from `createServiceMetrics`, so a renamed or misspelt metric fails), every label it groups,
 * matches or templates by is one of those metrics', every alert carries what on-call needs and
 * links a section of the README. `promtool check rules` also runs where promtool is installed
 * (Debian: `apt-get install prometheus`); CI without it skips that one test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createCertificateMetrics } from '@bilten/branding';
import { createIncidentMetrics, createSecurityMetrics } from '@bilten/identity';
import { createServiceMetrics } from '@bilten/platform';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const RULES = 'k8s/monitoring/prometheus-rules.yaml';
const README = 'k8s/monitoring/README.md';
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RuleFile {
  groups?: { name?: string; rules?: Rule[] }[];
}

const SEVERITIES = ['warning', 'critical'];
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
/** The bucket label a histogram's _bucket series carries. */
const LE = 'le';

// ---- What the services export: series names and the label names each carries ----

/** Series name → label names, for every series one service's /metrics can show. */
async function exportedSeries(): Promise<Map<string, Set<string>>> {
  const { registry } = createServiceMetrics('test');
  // Beside the common ones: branding's certificate job.
  createCertificateMetrics().register(registry);
  // identity's regulator-deadline gauges (incident response).
  createIncidentMetrics().register(registry);
  createSecurityMetrics().register(registry);
  const defaults = ['service'];
  const series = new Map<string, Set<string>>();
  for (const { name, type } of await registry.getMetricsAsJSON()) {
    const metric = registry.getSingleMetric(name) as unknown as { labelNames?: readonly string[] };
    const labels = [...defaults, ...(metric.labelNames ?? [])];
    const add = (seriesName: string, extra: string[] = []) =>
      series.set(seriesName, new Set([...labels, ...extra]));
    if (String(type) === 'histogram') {
      add(`${name}_bucket`, [LE]);
      add(`${name}_sum`);
      add(`${name}_count`);
    } else if (String(type) === 'summary') {
      add(name, ['quantile']);
      add(`${name}_sum`);
      add(`${name}_count`);
    } else {
      add(name);
    }
  }
  return series;
}

const EXPORTED = await exportedSeries();

// ---- A small PromQL reader: enough to pull names and labels out of these expressions ----

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/** The metric names (or recorded series) an expression selects, and the label names it uses. */
function readExpr(expr: string): { names: string[]; labels: string[]; nameMatchers: number } {
  const labels: string[] = [];
  let nameMatchers = 0;
  let rest = expr
    // string literals: label values, regexes
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    // label matchers: keep the label names
    .replace(/\{([^}]*)\}/g, (_, matchers: string) => {
      for (const [, label] of matchers.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
        if (label === '__name__') nameMatchers++;
        else labels.push(label!);
      }
      return ' ';
    })
    // range and subquery selectors, offset and @ modifiers
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ')
    .replace(/@\s*(?:start\(\)|end\(\)|[0-9.]+)/g, ' ')
    // grouping and vector matching: keep the label names
    .replace(GROUPING, (_, list: string) => {
      labels.push(
        ...list
          .split(',')
          .map((label) => label.trim())
          .filter(Boolean),
      );
      return ' ';
    });
  // numbers (1, 0.99, 1e3, 0x1f) would otherwise leave an "e3" or "x1f"
  rest = rest.replace(/(?<![\w:])(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w:])/gi, ' ');
  const names = [...rest.matchAll(/(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()/g)]
    .map(([, name]) => name!)
    .filter((name) => !KEYWORDS.has(name.toLowerCase()));
  return { names: [...new Set(names)], labels: [...new Set(labels)], nameMatchers };
}

/** GitHub's anchor for a Markdown heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

// ---- The files ----

const file = parse(read(RULES)) as RuleFile;
const groups = file.groups ?? [];
const rules = groups.flatMap((group) => group.rules ?? []);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const records = rules.filter((rule) => rule.record !== undefined);
const readme = read(README);
const anchors = new Set(
  [...readme.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map(([, heading]) => slug(heading!)),
);
const ruleName = (rule: Rule) => rule.alert ?? rule.record ?? '(unnamed)';

/**
 * Series name → label names for everything the rules may select: the exported series, and each
 * recorded series with the labels of the series it is computed from (or of its first `by`).
 */
const SELECTABLE = new Map(EXPORTED);
for (const rule of records) {
  const { names } = readExpr(String(rule.expr ?? ''));
  const by = /\bby\s*\(([^)]*)\)/.exec(String(rule.expr ?? ''));
  const labels = by
    ? by[1]!
        .split(',')
        .map((label) => label.trim())
        .filter((label) => label && label !== LE)
    : names.flatMap((name) => [...(EXPORTED.get(name) ?? [])]);
  SELECTABLE.set(rule.record!, new Set(labels));
}

/** What is wrong with an expression's names and labels; empty when it only uses what exists. */
function problemsOf(expr: string): string[] {
  const { names, labels, nameMatchers } = readExpr(expr);
  const problems: string[] = [];
  if (nameMatchers) problems.push('selects by __name__: name metrics directly so they can be checked');
  if (!names.length) problems.push('selects no metric');
  const unknown = names.filter((name) => !SELECTABLE.has(name));
  for (const name of unknown) problems.push(`unknown metric ${name}`);
  const available = new Set(names.flatMap((name) => [...(SELECTABLE.get(name) ?? [])]));
  if (!unknown.length) {
    for (const label of labels) {
      if (!available.has(label)) problems.push(`label ${label} is on none of ${names.join(', ')}`);
    }
  }
  return problems;
}

// ---- The checks ----

it('the expression reader flags a misspelt metric, a made-up label and a bare histogram name', () => {
  expect(problemsOf('sum by (service, consumer) (rate(events_dead_lettered_total[15m])) > 0')).toEqual([]);
  expect(problemsOf('sum by (service) (rate(events_dead_letterd_total[15m])) > 0')).toEqual([
    'unknown metric events_dead_letterd_total',
  ]);
  expect(problemsOf('sum by (service, consumer) (rate(events_publish_failures_total[5m])) > 0')).toEqual([
    'label consumer is on none of events_publish_failures_total',
  ]);
  expect(problemsOf('rate(event_handler_duration_seconds[5m]) > 1e3')).toEqual([
    'unknown metric event_handler_duration_seconds',
  ]);
  expect(readExpr('max(x offset 15m) / on (service) group_left y{code=~"A|B"} unless z')).toEqual({
    names: ['x', 'y', 'z'],
    labels: ['code', 'service'],
    nameMatchers: 0,
  });
});

it('exports the metrics the rules are about', () => {
  // A sanity check of the list itself: these must be there for the rules to mean anything.
  for (const name of [
    'outbox_oldest_unsent_age_seconds',
    'events_dead_lettered_total',
    'event_handler_duration_seconds_bucket',
    'event_consumer_pending',
    'graphql_errors_total',
  ]) {
    expect(EXPORTED.has(name), name).toBe(true);
  }
  expect([...EXPORTED.get('event_consumer_pending')!].sort()).toEqual(['consumer', 'service']);
});

describe(RULES, () => {
  it('is a plain Prometheus rules file: groups of rules, each an alert or a recording', () => {
    expect(Object.keys(file)).toEqual(['groups']);
    expect(groups.length).toBeGreaterThan(0);
    for (const group of groups) {
      expect(group.name, 'group name').toBeTruthy();
      expect(group.rules?.length, `${group.name}: rules`).toBeGreaterThan(0);
    }
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
    for (const rule of rules) {
      expect(
        [rule.alert, rule.record].filter((n) => n !== undefined),
        JSON.stringify(rule),
      ).toHaveLength(1);
      expect(typeof rule.expr, `${ruleName(rule)}: expr`).toBe('string');
      expect(String(rule.expr).trim(), `${ruleName(rule)}: expr`).not.toBe('');
    }
    const alertNames = alerts.map(ruleName);
    expect(new Set(alertNames).size, 'alert names are unique').toBe(alertNames.length);
    const recordNames = records.map(ruleName);
    expect(new Set(recordNames).size, 'recorded names are unique').toBe(recordNames.length);
  });

  it('names recorded series level:metric:operations, apart from any exported metric', () => {
    for (const { record, for: pending, annotations } of records) {
      expect(record, 'record').toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
      expect(EXPORTED.has(record!), record).toBe(false);
      expect(pending, `${record}: for`).toBeUndefined();
      expect(annotations, `${record}: annotations`).toBeUndefined();
    }
  });

  it('alerts on the outbox, consumers, dead letters, hold-backs, handler and GraphQL health', () => {
    const watched = new Set(alerts.flatMap((rule) => expandedNames(String(rule.expr))));
    for (const name of [
      'outbox_oldest_unsent_age_seconds',
      'events_publish_failures_total',
      'event_consumer_pending',
      'event_consumer_ack_pending',
      'events_dead_lettered_total',
      'event_handler_duration_seconds_bucket',
      'events_held_back_total',
      'graphql_errors_total',
      'graphql_operation_duration_seconds_bucket',
    ]) {
      expect(watched, name).toContain(name);
    }
  });

  describe.each(alerts.map((rule) => [ruleName(rule), rule] as const))('alert %s', (name, rule) => {
    it('has a duration, a known severity, a summary, a description and a runbook', () => {
      expect(name).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(String(rule.for ?? ''), 'for').toMatch(DURATION);
      expect(SEVERITIES, 'labels.severity').toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook']) {
        expect(typeof rule.annotations?.[key], `annotations.${key}`).toBe('string');
        expect(String(rule.annotations?.[key]).trim(), `annotations.${key}`).not.toBe('');
      }
    });

    it('links a section of the README', () => {
      const runbook = String(rule.annotations?.runbook ?? '');
      const [path, anchor] = runbook.split('#');
      expect(path).toBe(README);
      expect([...anchors], runbook).toContain(anchor);
    });

    it('names only exported metrics (or recorded series) and labels they carry', () => {
      const problems = problemsOf(String(rule.expr));
      expect(problems, problems.join('; ')).toEqual([]);
    });

    it('says which service (and consumer) it is about, with labels the expression keeps', () => {
      const text = `${rule.annotations?.summary} ${rule.annotations?.description}`;
      expect(text).toContain('{{ $labels.service }}');
      const { names } = readExpr(String(rule.expr));
      const available = new Set(names.flatMap((n) => [...(SELECTABLE.get(n) ?? [])]));
      const templated = [...text.matchAll(/\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g)].map(([, l]) => l!);
      for (const label of templated) expect([...available], `$labels.${label}`).toContain(label);
      if (available.has('consumer')) expect(templated, 'consumer alert').toContain('consumer');
    });
  });

  describe.each(records.map((rule) => [ruleName(rule), rule] as const))('recording %s', (_name, rule) => {
    it('names only exported metrics (or recorded series) and labels they carry', () => {
      const problems = problemsOf(String(rule.expr));
      expect(problems, problems.join('; ')).toEqual([]);
    });
  });

  const promtool = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, 'promtool'))
    .find((path) => existsSync(path));

  it.skipIf(!promtool)('passes promtool check rules', () => {
    const result = spawnSync(promtool!, ['check', 'rules', RULES], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stderr + result.stdout).toContain('SUCCESS');
    expect(result.status, result.stderr + result.stdout).toBe(0);
  });
});

describe(README, () => {
  it('has one section per alert, named after it', () => {
    for (const rule of alerts) expect([...anchors], ruleName(rule)).toContain(slug(ruleName(rule)));
  });
});

/** The exported series an expression reads, through the recorded series it names. */
function expandedNames(expr: string, seen = new Set<string>()): string[] {
  return readExpr(expr).names.flatMap((name) => {
    const recorded = records.find((rule) => rule.record === name);
    if (!recorded) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    return expandedNames(String(recorded.expr), seen);
  });
}
