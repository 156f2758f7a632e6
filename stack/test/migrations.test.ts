import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SUBGRAPHS_DIR = fileURLToPath(new URL('../../subgraphs/', import.meta.url));
const SUBGRAPH_NAMES = readdirSync(SUBGRAPHS_DIR).sort();
const scratch: string[] = [];

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder holding a copy of `source` (or nothing). */
function scratchFolder(source?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bilten-drift-'));
  scratch.push(dir);
  if (source) cpSync(source, dir, { recursive: true });
  return dir;
}

/** Every file under `dir` with its content, so any change drizzle-kit makes shows up. */
function snapshot(dir: string): Record<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return Object.fromEntries(
    files.map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return [path.relative(dir, file), readFileSync(file, 'utf8')];
    }),
  );
}

/**
 * `drizzle-kit generate` for one subgraph's schema into `out`. drizzle-kit prefixes `--out` with
 * "./", so it must be relative to the subgraph folder; it also exits 0 on errors, hence the text.
 */
function generate(subgraph: string, out: string): string {
  const cwd = path.join(SUBGRAPHS_DIR, subgraph);
  return execFileSync(
    'npx',
    [
      'drizzle-kit',
      'generate',
      '--dialect',
      'postgresql',
      '--schema',
      './src/db/schema.ts',
      '--out',
      path.relative(cwd, out),
    ],
    {
      cwd,
      timeout: 30_000,
      encoding: 'utf8',
      // drizzle-kit's own errors stay visible on stderr; npm's config warnings do not.
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, npm_config_loglevel: 'error' },
    },
  );
}

describe('committed drizzle migrations match src/db/schema.ts', () => {
  it('covers every subgraph', () => {
    expect([...SUBGRAPH_NAMES].sort()).toEqual(
      readdirSync(SUBGRAPHS_DIR, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort(),
    );
  });

  it.each(SUBGRAPH_NAMES)('%s: drizzle-kit generate has nothing to migrate', (subgraph) => {
    const out = scratchFolder(path.join(SUBGRAPHS_DIR, subgraph, 'drizzle'));
    const before = snapshot(out);
    expect(Object.keys(before).some((file) => file.endsWith('.sql'))).toBe(true);

    const output = generate(subgraph, out);

    expect(output).toContain('No schema changes, nothing to migrate');
    expect(snapshot(out)).toEqual(before);
  });

  it('would notice drift: with no committed migrations drizzle-kit writes a new one', () => {
    const out = scratchFolder();
    const output = generate('orders', out);
    expect(output).not.toContain('nothing to migrate');
    expect(Object.keys(snapshot(out)).filter((file) => file.endsWith('.sql'))).toHaveLength(1);
  });
});
