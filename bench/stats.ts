import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Milliseconds on the monotonic clock every stage of the benchmark stamps with. */
export const now = () => performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (ms, 0.1 ms resolution) of the samples. */
export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const round = (value: number | undefined) => Math.round((value ?? Number.NaN) * 10) / 10;
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)),
    mean: round(sum / sorted.length),
  };
}

export function minOf(values: Iterable<number>): number {
  let min = Number.POSITIVE_INFINITY;
  for (const value of values) if (value < min) min = value;
  return min;
}

export function maxOf(values: Iterable<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) if (value > max) max = value;
  return max;
}

/** Differences `to[id] - from[id]` for every id present in both maps. */
export function deltas(from: Map<string, number>, to: Map<string, number>): number[] {
  const result: number[] = [];
  for (const [id, end] of to) {
    const start = from.get(id);
    if (start !== undefined) result.push(end - start);
  }
  return result;
}

export interface CpuUsage {
  /** Share of the time the Node event loop (one thread) was busy: near 100 means it is the bottleneck. */
  eventLoopPercent: number;
  /** This Node process (producers, relay, consumer, nats client), all its threads: % of one core. */
  nodePercentOfOneCore: number;
  /** PostgreSQL (every backend, including those that exited meanwhile): % of one core. */
  postgresPercentOfOneCore: number;
  /** nats-server: % of one core. */
  natsPercentOfOneCore: number;
  /** The whole machine: % of all cores busy. */
  machinePercent: number;
  /** Absolute figures, for costs per event: wall time, event-loop busy time, CPU time by process. */
  wallMs: number;
  eventLoopBusyMs: number;
  nodeCpuMs: number;
  postgresCpuMs: number;
  natsCpuMs: number;
}

interface Ticks {
  machineBusy: number;
  machineTotal: number;
  postgres: number;
  nats: number;
}

/** CPU ticks from /proc: the machine, and the postgres and nats-server processes (reaped children included). */
function readTicks(): Ticks | undefined {
  try {
    const values = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.reduce((sum, value) => sum + value, 0);
    const ticks: Ticks = { machineBusy: total - idle, machineTotal: total, postgres: 0, nats: 0 };
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const key = comm === 'postgres' ? 'postgres' : comm === 'nats-server' ? 'nats' : undefined;
      if (!key) continue;
      // After "(comm)": state, ppid, ..., utime (12th), stime, cutime, cstime.
      const fields = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      ticks[key] += (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0);
    }
    return ticks;
  } catch {
    return undefined;
  }
}

/** Starts measuring CPU; the returned function reports the usage since then. */
export function cpuMeter(): () => CpuUsage {
  const wallStart = now();
  const nodeStart = process.cpuUsage();
  const loopStart = performance.eventLoopUtilization();
  const ticksStart = readTicks();
  return () => {
    const wall = now() - wallStart;
    const node = process.cpuUsage(nodeStart);
    const ticksEnd = readTicks();
    let machine = { machinePercent: Number.NaN, postgres: Number.NaN, nats: Number.NaN };
    if (ticksStart && ticksEnd) {
      const total = Math.max(1, ticksEnd.machineTotal - ticksStart.machineTotal);
      const perCore = total / cpus().length;
      machine = {
        machinePercent: ((ticksEnd.machineBusy - ticksStart.machineBusy) / total) * 100,
        postgres: ((ticksEnd.postgres - ticksStart.postgres) / perCore) * 100,
        nats: ((ticksEnd.nats - ticksStart.nats) / perCore) * 100,
      };
    }
    const loop = performance.eventLoopUtilization(loopStart);
    const nodeMs = (node.user + node.system) / 1_000;
    return {
      eventLoopPercent: Math.round(loop.utilization * 100),
      nodePercentOfOneCore: Math.round((nodeMs / wall) * 100),
      postgresPercentOfOneCore: Math.round(machine.postgres),
      natsPercentOfOneCore: Math.round(machine.nats),
      machinePercent: Math.round(machine.machinePercent),
      wallMs: Math.round(wall),
      eventLoopBusyMs: Math.round(loop.active),
      nodeCpuMs: Math.round(nodeMs),
      postgresCpuMs: Math.round((machine.postgres / 100) * wall),
      natsCpuMs: Math.round((machine.nats / 100) * wall),
    };
  };
}

let postgresWrites = 0;
let countingPort: number | undefined;

/**
 * Counts socket writes to PostgreSQL from this process: postgres.js sends what a round trip needs
 * in one write, so this is the number of round trips the pipeline makes. Measurement only.
 */
export function postgresWriteCounter(port: number): () => number {
  if (countingPort === undefined) {
    countingPort = port;
    const write = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
      if (this.remotePort === countingPort) postgresWrites++;
      return (write as (...args: unknown[]) => boolean).apply(this, args);
    } as typeof write;
  }
  return () => postgresWrites;
}

/** A plain text table with right-aligned columns after the first. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export const fmt = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
