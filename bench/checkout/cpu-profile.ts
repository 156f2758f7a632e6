/**
 * Where this process's main thread spends its time during one phase (BENCH_CPU_PROFILE=1): the V8
 * sampling profiler through node:inspector, self time summed by package or source folder. The
 * whole platform runs in this process, so this says which part a purchase costs most.
 */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/<pkg>` (scoped too), else the repository folder it is in, else a V8 bucket. */
function bucketOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return 'node:internals';
  const local =
    /\/(subgraphs\/[^/]+\/src\/[^/]+|packages\/[^/]+\/src|gateway\/src|stack\/[^/]+|bench\/[^/]+)/.exec(url);
  return local ? local[1]! : url;
}

export interface CpuBreakdown {
  sampledMs: number;
  /** Self time by bucket, largest first, in % of the sampled time (buckets under 1 % left out). */
  top: Array<{ bucket: string; percent: number; ms: number }>;
}

export async function startCpuProfile(): Promise<() => Promise<CpuBreakdown>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
    session.disconnect();
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parentOf = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
    // Native code and Node's internals are charged to the nearest caller of ours or of a package.
    const ownerOf = (id: number) => {
      const leaf = bucketOf(byId.get(id)!);
      let at: number | undefined = id;
      while (at !== undefined) {
        const bucket = bucketOf(byId.get(at)!);
        if (bucket !== '(native)' && bucket !== 'node:internals') return bucket;
        at = parentOf.get(at);
      }
      return leaf;
    };
    const ms = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const delta = (profile.timeDeltas[i] ?? 0) / 1_000;
      total += delta;
      const bucket = ownerOf(id);
      ms.set(bucket, (ms.get(bucket) ?? 0) + delta);
    });
    const top = [...ms]
      .map(([bucket, value]) => ({
        bucket,
        percent: Math.round((value / total) * 1_000) / 10,
        ms: Math.round(value),
      }))
      .filter((row) => row.percent >= 1)
      .sort((a, b) => b.ms - a.ms);
    return { sampledMs: Math.round(total), top };
  };
}
