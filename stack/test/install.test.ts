import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/** What `npm install` installs, as the committed lock lists it. */
interface LockEntry {
  version?: string;
  link?: boolean;
  resolved?: string;
  engines?: { node?: string } | string[];
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optional?: boolean;
  hasInstallScript?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const ROOT = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
  overrides?: Record<string, string>;
};
const lock = JSON.parse(readFileSync(new URL('package-lock.json', ROOT), 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const entries = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && !entry.link);

/** `node_modules/a/node_modules/@b/c` → `@b/c` */
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** npm's os/cpu/libc lists: names to match, or `!name` to exclude. */
function fits(list: string[] | undefined, value: string): boolean {
  if (!list?.length) return true;
  if (list.includes(`!${value}`)) return false;
  return list.includes(value) || list.every((item) => item.startsWith('!'));
}
const libc =
  process.platform !== 'linux'
    ? ''
    : (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
          ?.glibcVersionRuntime
      ? 'glibc'
      : 'musl';
/** Whether npm installs this entry here (other platforms' optional builds it skips). */
const installedHere = (entry: LockEntry) =>
  fits(entry.os, process.platform) && fits(entry.cpu, process.arch) && (!libc || fits(entry.libc, libc));

describe('npm install on the Node versions package.json promises', () => {
  // The lowest Node `engines` admits, and the one running: a package wanting more warns
  // (EBADENGINE) on every install and may use what Node 20 lacks.
  const nodes = [semver.minVersion(manifest.engines.node)!.version, process.version];

  it.each(nodes)('installs only packages whose engines.node admits Node %s', (node) => {
    const unfit = entries
      .filter(([, entry]) => installedHere(entry))
      .flatMap(([path, entry]) => {
        const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return wanted && !semver.satisfies(node, wanted) ? [`${path}@${entry.version} wants ${wanted}`] : [];
      });
    expect(unfit).toEqual([]);
  });

  it('resolves every dependency within the range its dependent declares (overrides included)', () => {
    const resolve = (from: string, name: string): LockEntry | undefined => {
      for (let dir = from; ; dir = dir.slice(0, Math.max(dir.lastIndexOf('/node_modules/'), 0))) {
        const entry = lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`];
        if (entry) return entry.link ? lock.packages[entry.resolved!] : entry;
        if (!dir) return undefined;
      }
    };
    const outside = Object.entries(lock.packages)
      .filter(([, entry]) => !entry.link)
      .flatMap(([path, entry]) => {
        const required = { ...entry.dependencies, ...entry.optionalDependencies };
        for (const [name, range] of Object.entries(entry.peerDependencies ?? {}))
          if (!entry.peerDependenciesMeta?.[name]?.optional) required[name] = range;
        return Object.entries(required).flatMap(([name, range]) => {
          const version = semver.validRange(range) ? resolve(path, name)?.version : undefined;
          // An override named for exactly this range (`name@range`) is a decision written down in
          // package.json, e.g. graphql-rate-limit's graphql-tools 7, which refuses graphql 16.
          const overridden = manifest.overrides?.[`${name}@${range}`] === version;
          return version && !overridden && !semver.satisfies(version, range, { includePrerelease: true })
            ? [`${path || 'bilten'} wants ${name}@${range}, gets ${version}`]
            : [];
        });
      });
    expect(outside).toEqual([]);
  });

  it('has a decision in allowScripts for every package with an install script', () => {
    const decisions = Object.keys(manifest.allowScripts ?? {}).map((key) => {
      const at = key.lastIndexOf('@');
      return at > 0 ? { name: key.slice(0, at), range: key.slice(at + 1) } : { name: key, range: '*' };
    });
    const undecided = entries
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path, entry]) => ({ name: nameOf(path), version: entry.version! }))
      .filter(
        ({ name, version }) =>
          !decisions.some(
            (decision) =>
              decision.name === name &&
              semver.satisfies(version, decision.range, { includePrerelease: true }),
          ),
      )
      .map(({ name, version }) => `${name}@${version}`);
    expect(undecided).toEqual([]);
  });
});
