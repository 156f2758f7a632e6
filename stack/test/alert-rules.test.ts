/**
 * k8s/monitoring with Prometheus' own tools: `promtool check rules` on every rule file, `promtool test
 * rules` on the unit tests in k8s/monitoring/tests (each alert seen firing with its exact labels and
 * annotations, and not firing where it must not), every alert and recorded series of the rule files
 * named by some unit test, and `amtool check-config` on the Alertmanager configuration. .ci/run
 * installs both tools (Debian's prometheus and prometheus-alertmanager).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const MONITORING = join(ROOT, 'k8s/monitoring');
const RULE_FILES = ['prometheus-rules.yaml', 'slo-rules.yaml'];
const TESTS = join(MONITORING, 'tests');
const testFiles = readdirSync(TESTS).filter((name) => name.endsWith('.test.yaml'));

const run = (command: string, args: string[], cwd = MONITORING) => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, output: result.stdout + result.stderr };
};

interface RuleFile {
  groups: { rules: { alert?: string; record?: string }[] }[];
}
interface UnitTestFile {
  rule_files: string[];
  tests: {
    alert_rule_test?: { alertname: string }[];
    promql_expr_test?: { expr: string }[];
  }[];
}

describe('promtool', () => {
  it.each(RULE_FILES)('check rules %s', (file) => {
    const { status, output } = run('promtool', ['check', 'rules', file]);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it.each(testFiles)('test rules %s', (file) => {
    const { status, output } = run('promtool', ['test', 'rules', file], TESTS);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('a broken expectation fails, so the passing runs mean something', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      const original = parse(readFileSync(join(TESTS, 'slo.test.yaml'), 'utf8')) as UnitTestFile;
      const broken = {
        ...original,
        rule_files: original.rule_files.map((file) => join(TESTS, file)),
        tests: original.tests.map((test) => ({
          ...test,
          // Every alert expected nowhere: each firing alert is then a failure.
          alert_rule_test: test.alert_rule_test?.map((check) => ({ ...check, exp_alerts: [] })),
        })),
      };
      writeFileSync(join(dir, 'broken.test.yaml'), stringify(broken));
      const { status, output } = run('promtool', ['test', 'rules', 'broken.test.yaml'], dir);
      expect(status).not.toBe(0);
      expect(output).toContain('BiltenSLOLatencyFastBurn');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every rule has a unit test', () => {
  const tests = testFiles.map((file) => parse(readFileSync(join(TESTS, file), 'utf8')) as UnitTestFile);
  const tested = new Set(tests.flatMap((file) => file.rule_files.map((path) => path.replace(/^\.\.\//, ''))));
  const alertsTested = new Set(
    tests.flatMap((file) =>
      file.tests.flatMap((test) => (test.alert_rule_test ?? []).map((c) => c.alertname)),
    ),
  );
  const exprsTested = tests
    .flatMap((file) => file.tests.flatMap((test) => (test.promql_expr_test ?? []).map((c) => c.expr)))
    .join('\n');

  it.each(RULE_FILES)('%s is loaded by a unit test file', (file) => {
    expect([...tested]).toContain(file);
  });

  const rules = RULE_FILES.flatMap((file) =>
    (parse(readFileSync(join(MONITORING, file), 'utf8')) as RuleFile).groups.flatMap((group) => group.rules),
  );
  it.each(rules.filter((rule) => rule.alert).map((rule) => rule.alert!))('alert %s', (alert) => {
    expect([...alertsTested]).toContain(alert);
  });
  it.each(rules.filter((rule) => rule.record).map((rule) => rule.record!))('recorded %s', (record) => {
    expect(exprsTested).toMatch(
      new RegExp(`(?<![\\w:])${record.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w:])`),
    );
  });
});

describe('amtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amtool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check-config alertmanager.yml, with its mail templates', () => {
    // Templates from the repository rather than the pod's mount, so amtool parses them too.
    const config = readFileSync(join(MONITORING, 'alertmanager.yml'), 'utf8').replace(
      '/etc/alertmanager/templates/*.tmpl',
      join(MONITORING, '*.tmpl'),
    );
    writeFileSync(join(dir, 'alertmanager.yml'), config);
    const { status, output } = run('amtool', ['check-config', join(dir, 'alertmanager.yml')]);
    expect(output).toContain('SUCCESS');
    expect(output).toContain(' - 1 templates');
    expect(status, output).toBe(0);
  });

  it('check-config refuses a broken route', () => {
    const config = parse(readFileSync(join(MONITORING, 'alertmanager.yml'), 'utf8'));
    config.route.receiver = 'nobody';
    writeFileSync(join(dir, 'broken.yml'), stringify(config));
    expect(run('amtool', ['check-config', join(dir, 'broken.yml')]).status).not.toBe(0);
  });

  it('routes a critical SLO alert and a warning to the platform admins', () => {
    for (const labels of ['alertname=BiltenSLOLatencyFastBurn severity=critical', 'severity=warning']) {
      const { status, output } = run('amtool', [
        'config',
        'routes',
        'test',
        '--config.file',
        join(MONITORING, 'alertmanager.yml'),
        ...labels.split(' '),
      ]);
      // amtool warns on stderr about the deprecated flag; the receiver is stdout's first line.
      expect(output.split('\n')[0]).toBe('platform-admins');
      expect(status, output).toBe(0);
    }
  });
});
