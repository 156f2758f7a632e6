import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The repository root. */
export const ROOT = resolve(new URL('../../', import.meta.url).pathname);

/** Where each `@bilten/*` workspace lives. */
export const WORKSPACES: Record<string, string> = {
  '@bilten/contracts': 'packages/contracts',
  '@bilten/platform': 'packages/platform',
  '@bilten/testkit': 'packages/testkit',
  '@bilten/gateway': 'gateway',
  '@bilten/stack': 'stack',
  ...Object.fromEntries(
    ['identity', 'catalog', 'orders', 'billing', 'messaging', 'branding'].map((name) => [
      `@bilten/${name}`,
      `subgraphs/${name}`,
    ]),
  ),
};

/** Every TypeScript file of ours, as paths relative to the root. */
export function sourceFiles(root = ROOT): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir))) {
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      const path = dir ? `${dir}/${entry}` : entry;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk('');
  return files;
}

/** The module specifiers a file imports or re-exports, statically or dynamically (TypeScript's own scanner). */
export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/**
 * Where an import lands, relative to the root: a relative path as written, a workspace package at
 * the file its `exports` names, a workspace subpath as written; undefined for npm packages.
 */
export function resolveImport(from: string, specifier: string, root = ROOT): string | undefined {
  if (specifier.startsWith('.')) return relative(root, resolve(root, dirname(from), specifier));
  const workspace = Object.keys(WORKSPACES)
    .filter((name) => specifier === name || specifier.startsWith(`${name}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (!workspace) return undefined;
  const dir = WORKSPACES[workspace]!;
  const subpath = `.${specifier.slice(workspace.length)}`;
  const manifest = join(root, dir, 'package.json');
  const exported = existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, 'utf8')).exports?.[subpath] as string | undefined)
    : undefined;
  return join(dir, exported ?? subpath);
}

/** `subgraphs/catalog/src/db/x.ts` → { area: 'subgraphs', name: 'catalog', rest: 'src/db/x.ts' }. */
function locate(path: string) {
  const [area = '', name = '', ...rest] = path.split('/');
  return area === 'subgraphs' || area === 'packages'
    ? { area, name, rest: rest.join('/') }
    : { area, name: '', rest: [name, ...rest].join('/') };
}

/**
 * What the tree's arrows forbid (stack → gateway/subgraphs → packages, and nothing else):
 * - a subgraph importing another subgraph, the gateway or the stack;
 * - the gateway importing a subgraph or the stack; a package importing anything above packages;
 * - anything but a subgraph's own files reaching into its `src/` other than `src/server.ts`,
 *   its public face (benchmarks and end-to-end tests go through the API or that face);
 * - code that runs in production importing the testkit.
 */
export function importViolations(files: Record<string, string>, root = ROOT): string[] {
  const violations: string[] = [];
  for (const [file, source] of Object.entries(files)) {
    const from = locate(file);
    for (const specifier of importsOf(source)) {
      const target = resolveImport(file, specifier, root);
      if (!target) continue;
      const to = locate(target);
      const say = (why: string) => violations.push(`${file} imports ${specifier}: ${why}`);
      if (to.area === 'subgraphs' && !(from.area === 'subgraphs' && from.name === to.name)) {
        if (from.area === 'subgraphs') say('subgraphs never import each other');
        else if (from.area === 'packages' || from.area === 'gateway') say('arrows run downward only');
        else if (to.rest !== 'src/server.ts')
          say(`reaches into ${to.name}'s internals (use @bilten/${to.name})`);
      }
      if ((to.area === 'stack' || to.area === 'gateway') && from.area !== to.area) {
        if (from.area === 'subgraphs' || from.area === 'packages') say('arrows run downward only');
        if (to.area === 'stack' && from.area === 'gateway') say('arrows run downward only');
      }
      const isTestCode = file.includes('/test/') || from.area === 'bench' || from.name === 'testkit';
      if (to.area === 'packages' && to.name === 'testkit' && !isTestCode)
        say('only tests and benchmarks use the testkit');
    }
  }
  return violations;
}

/** The files of the tree, read. */
export function readTree(root = ROOT): Record<string, string> {
  return Object.fromEntries(sourceFiles(root).map((file) => [file, readFileSync(join(root, file), 'utf8')]));
}

/** What every subgraph has, the same in all six (ARCHITECTURE.md, "Layout"). */
export const SUBGRAPH_SKELETON = {
  required: [
    'package.json',
    'schema.graphql',
    'drizzle.config.ts',
    'drizzle/',
    'src/index.ts',
    'src/server.ts',
    'src/config.ts',
    'src/context.ts',
    'src/events.ts',
    'src/resolvers/',
    'src/domain/',
    'src/db/',
    'src/db/schema.ts',
    'src/generated/graphql.ts',
    'test/',
  ],
  /** Present where needed: the outside world (SMTP, key store, providers), command-line tools. */
  optional: ['src/adapters/', 'src/cli/'],
};

/** How a subgraph's tree differs from the skeleton: missing entries, and `src/` entries it does not know. */
export function skeletonProblems(subgraphDir: string, root = ROOT): string[] {
  const problems: string[] = [];
  const has = (entry: string) => {
    const path = join(root, subgraphDir, entry);
    return existsSync(path) && (!entry.endsWith('/') || statSync(path).isDirectory());
  };
  for (const entry of SUBGRAPH_SKELETON.required) if (!has(entry)) problems.push(`missing ${entry}`);
  const known = new Set(
    [...SUBGRAPH_SKELETON.required, ...SUBGRAPH_SKELETON.optional]
      .filter((entry) => entry.startsWith('src/'))
      .map((entry) => entry.slice(4).split('/')[0]),
  );
  if (has('src/')) {
    for (const entry of readdirSync(join(root, subgraphDir, 'src')))
      if (!known.has(entry)) problems.push(`src/${entry} is not part of the skeleton`);
  }
  const exportsOf = has('package.json')
    ? JSON.parse(readFileSync(join(root, subgraphDir, 'package.json'), 'utf8')).exports
    : undefined;
  if (JSON.stringify(exportsOf) !== JSON.stringify({ '.': './src/server.ts' }))
    problems.push('package.json must export only "." → ./src/server.ts');
  return problems;
}
