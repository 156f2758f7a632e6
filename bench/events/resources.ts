import { randomBytes } from 'node:crypto';
import { createTestDatabase, TEST_NATS_URL, type TestDatabase } from '@bilten/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/**
 * Everything a benchmark step created (databases, streams, connections), released in reverse
 * order whatever happened; errors while releasing are reported, not thrown.
 */
export class Resources {
  private readonly releases: Array<{ what: string; release: () => Promise<unknown> }> = [];
  private releasing: Promise<void> | undefined;
  private static readonly open = new Set<Resources>();

  constructor() {
    Resources.open.add(this);
  }

  defer(what: string, release: () => Promise<unknown>): void {
    this.releases.push({ what, release });
  }

  /** Idempotent: a second caller (a signal during a failing step) waits for the same release. */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      for (const { what, release } of this.releases.splice(0).reverse()) {
        try {
          await release();
        } catch (err) {
          process.stderr.write(`bench: could not release ${what}: ${(err as Error).message}\n`);
        }
      }
      Resources.open.delete(this);
    })();
    return this.releasing;
  }

  /** A fresh database on the test server, dropped on release. */
  async database(): Promise<TestDatabase> {
    const database = await createTestDatabase();
    this.defer(`database ${database.name}`, () => database.drop());
    return database;
  }

  /** Private stream names and subject prefix; the streams (and `<stream>_DLQ`) are deleted on release. */
  streamNames(kind: string): { stream: string; subjectPrefix: string; suffix: string } {
    const suffix = randomBytes(5).toString('hex');
    const stream = `BENCH_${kind.toUpperCase()}_${suffix}`;
    this.defer(`stream ${stream}`, () => deleteStreams([stream, `${stream}_DLQ`]));
    return { stream, subjectPrefix: `bench${suffix}.`, suffix };
  }

  /** Releases whatever is still open (used on SIGINT/SIGTERM). */
  static async releaseAll(): Promise<void> {
    for (const resources of [...Resources.open].reverse()) await resources.release();
  }

  /** Whether a signal started the clean-up (the run then exits from the signal handler). */
  static interrupted = false;
}

async function deleteStreams(names: string[]) {
  const nc = await connect({ servers: TEST_NATS_URL, name: 'bench-cleanup' });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of names) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
