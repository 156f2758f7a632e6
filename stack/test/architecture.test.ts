/**
 * The shape of the tree, checked: which way imports may point, the skeleton every subgraph shares,
 * where SQL and permission checks may live, and one home for event contracts.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDefinition } from '@bilten/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  importViolations,
  ROOT,
  readTree,
  SUBGRAPH_SKELETON,
  skeletonProblems,
  sourceFiles,
} from './architecture.ts';

const SUBGRAPHS = readdirSync(join(ROOT, 'subgraphs')).sort();
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const filesUnder = (prefix: string) => sourceFiles().filter((file) => file.startsWith(prefix));

describe('imports', () => {
  it('run downward only, never across subgraphs, never into a subgraph from outside but through its server.ts', () => {
    expect(importViolations(readTree())).toEqual([]);
  });

  it('are caught when they break those rules', () => {
    const violations = importViolations({
      'subgraphs/orders/src/domain/orders.ts': `import { events } from '../../../catalog/src/db/schema.ts';`,
      'subgraphs/orders/src/server.ts': `import { catalogSubgraph } from '@bilten/catalog';`,
      'subgraphs/orders/src/db/queries.ts': `import { startTestSubgraph } from '@bilten/testkit';`,
      'bench/search/run.ts': `import { searchEvents } from '@bilten/catalog/src/db/search.ts';`,
      'stack/test/auth.test.ts': `const keys = await import('../../subgraphs/identity/src/adapters/keys.ts');`,
      'packages/platform/src/http.ts': `export { startGateway } from '../../../gateway/src/server.ts';`,
      'gateway/src/server.ts': `import { SUBGRAPHS } from '../../stack/src/stack.ts';`,
    });
    expect(violations.map((line) => line.split(':')[0])).toEqual([
      'subgraphs/orders/src/domain/orders.ts imports ../../../catalog/src/db/schema.ts',
      'subgraphs/orders/src/server.ts imports @bilten/catalog',
      'subgraphs/orders/src/db/queries.ts imports @bilten/testkit',
      'bench/search/run.ts imports @bilten/catalog/src/db/search.ts',
      'stack/test/auth.test.ts imports ../../subgraphs/identity/src/adapters/keys.ts',
      'packages/platform/src/http.ts imports ../../../gateway/src/server.ts',
      'gateway/src/server.ts imports ../../stack/src/stack.ts',
    ]);
  });

  it('allow a subgraph its own files, and everyone its public face', () => {
    expect(
      importViolations({
        'subgraphs/catalog/test/search.test.ts': `import { events } from '../src/db/schema.ts';`,
        'stack/src/stack.ts': `import { catalogSubgraph } from '@bilten/catalog';`,
        'bench/search/run.ts': `import { startTestStack } from '../../stack/test/support.ts';`,
        'subgraphs/messaging/src/events.ts': `import { userRegistered } from '@bilten/contracts/identity';`,
      }),
    ).toEqual([]);
  });
});

describe('the subgraph skeleton', () => {
  it('is the same in all six', () => {
    expect(SUBGRAPHS).toEqual(['billing', 'branding', 'catalog', 'identity', 'messaging', 'orders']);
    for (const subgraph of SUBGRAPHS) expect(skeletonProblems(`subgraphs/${subgraph}`), subgraph).toEqual([]);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'skeleton-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('names what a subgraph lacks or adds', () => {
    for (const dir of ['src/domain', 'src/resolvers', 'src/helpers'])
      mkdirSync(join(scratch, 'subgraphs/x', dir), { recursive: true });
    writeFileSync(join(scratch, 'subgraphs/x/package.json'), '{"exports": {"./src/*": "./src/*"}}');
    const problems = skeletonProblems('subgraphs/x', scratch);
    expect(problems).toContain('missing src/db/');
    expect(problems).toContain('missing src/config.ts');
    expect(problems).toContain('src/helpers is not part of the skeleton');
    expect(problems).toContain('package.json must export only "." → ./src/server.ts');
    expect(problems).not.toContain('missing src/domain/');
  });

  it('is the one the README describes', () => {
    const readme = read('README.md');
    for (const entry of [...SUBGRAPH_SKELETON.required, ...SUBGRAPH_SKELETON.optional]) {
      const name = entry.replace(/^src\//, '').replace(/\/$/, '');
      expect(readme, entry).toMatch(new RegExp(`\\b${name.replace('.', '\\.')}\\b`));
    }
  });
});

describe('inside each subgraph', () => {
  const domainFiles = SUBGRAPHS.flatMap((subgraph) => filesUnder(`subgraphs/${subgraph}/src/domain/`));
  const resolverFiles = SUBGRAPHS.flatMap((subgraph) => filesUnder(`subgraphs/${subgraph}/src/resolvers/`));

  it('keeps SQL and GraphQL errors out of the rules, and each rule file under ~400 lines', () => {
    const found = domainFiles.flatMap((file) => {
      const source = read(file);
      return [
        /^import (?!type)[^;]*from '(drizzle-orm[^']*|postgres)';/m.test(source) && `${file}: runs SQL`,
        /\b(db|tx)\.(select|insert|update|delete|execute)\(/.test(source) && `${file}: runs SQL`,
        /^import (?!type)[^;]*from 'graphql';/m.test(source) && `${file}: throws GraphQL errors`,
        source.split('\n').length > 420 && `${file}: ${source.split('\n').length} lines`,
      ].filter(Boolean);
    });
    expect(found).toEqual([]);
  });

  it('keeps queries and permission checks out of the resolvers', () => {
    const found = resolverFiles.flatMap((file) => {
      const source = read(file);
      return [
        /^import (?!type)[^;]*from '\.\.\/db\//m.test(source) && `${file}: queries the database`,
        /\brequire[A-Z]\w*\(/.test(source) && `${file}: checks permissions`,
      ].filter(Boolean);
    });
    expect(found).toEqual([]);
  });
});

describe('event contracts', () => {
  const producers = readdirSync(join(ROOT, 'packages/contracts/src'))
    .filter((file) => file !== 'define.ts')
    .map((file) => file.replace(/\.ts$/, ''));

  it('live in packages/contracts, one file per producer, named after it, each type once', async () => {
    const types: string[] = [];
    for (const producer of producers) {
      // The gateway publishes too (its API-key usage, issue 19), having no outbox of its own.
      expect([...SUBGRAPHS, 'gateway'], producer).toContain(producer);
      const contracts = Object.values(
        (await import(`../../packages/contracts/src/${producer}.ts`)) as Record<string, EventDefinition>,
      );
      expect(contracts.length, producer).toBeGreaterThan(0);
      for (const contract of contracts) {
        expect(contract.type).toMatch(new RegExp(`^bilten\\.${producer}\\.[a-z_]+\\.[a-z_]+$`));
        types.push(contract.type);
      }
    }
    expect(new Set(types).size).toBe(types.length);
  });

  it('are defined nowhere else: no subgraph defines an event of its own', () => {
    const defining = sourceFiles()
      .filter((file) => file.startsWith('subgraphs/') && file.includes('/src/'))
      .filter((file) => /\bdefineEvent\(/.test(read(file)));
    expect(defining).toEqual([]);
  });

  it("are published from each producer's src/events.ts and consumed from there too", () => {
    for (const subgraph of SUBGRAPHS) {
      const events = read(`subgraphs/${subgraph}/src/events.ts`);
      for (const [, producer] of events.matchAll(/from '@bilten\/contracts\/(\w+)'/g))
        expect(producer).toBe(subgraph);
      const server = read(`subgraphs/${subgraph}/src/server.ts`);
      if (/export const consumers\b/.test(events))
        expect(server, subgraph).toMatch(/import \{ consumers \} from '\.\/events\.ts'/);
      expect(server, subgraph).not.toMatch(/Consumer\b/);
    }
  });
});
