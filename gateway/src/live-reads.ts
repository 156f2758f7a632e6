import type { ExecutionResult } from 'graphql';

export type ReadResult = ExecutionResult<Record<string, unknown>>;

export interface CoalescedReads {
  /** The entity changed: read it again, now or when the coalescing window ends. */
  changed(): void;
  /** No change is waiting and no read is running: the last read is the current state. */
  readonly settled: boolean;
  stop(): void;
}

/**
 * Re-reads after changes, at most once per `coalesceMs` counted from the last answer: changes that come while a read runs (or
 * within the window of the last) make one more read, so the last state is always read. `read`
 * handles its own failures.
 */
export function coalescedReads(coalesceMs: number, read: () => Promise<void>): CoalescedReads {
  let dirty = false;
  let reading = false;
  let stopped = false;
  let lastReadAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const pump = async () => {
    if (reading || stopped || !dirty) return;
    const wait = lastReadAt + coalesceMs - Date.now();
    if (wait > 0) {
      timer ??= setTimeout(() => {
        timer = undefined;
        void pump();
      }, wait);
      return;
    }
    reading = true;
    dirty = false;
    try {
      await read();
    } finally {
      // The window starts when the answer went out, so subscribers get at most one message per
      // window however long a read takes under load.
      lastReadAt = Date.now();
      reading = false;
    }
    void pump();
  };
  return {
    changed() {
      dirty = true;
      void pump();
    },
    get settled() {
      return !dirty && !reading;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Hears the changes of one entity; `onChange` for each. */
export type ChangeListener = (onChange: () => void) => Promise<{ stop(): Promise<void> }>;

export interface SharedReadOptions {
  coalesceMs: number;
  /** Never throws: a failure is a result with errors. */
  read: () => Promise<ReadResult>;
  listen: ChangeListener;
}

interface SharedRead {
  members: Set<(result: ReadResult) => void>;
  latest?: ReadResult;
  reads: CoalescedReads;
  listening: Promise<{ stop(): Promise<void> }>;
}

/**
 * Reads whose answer does not depend on who asks, shared by every subscriber of this process that
 * asks the same thing (the same share key): one listener and one read per change window, its
 * result handed to all of them. 5,000 watchers of one event cost one read, not 5,000.
 */
export function createSharedReads() {
  const shared = new Map<string, SharedRead>();

  const leave = (key: string, entry: SharedRead, member: (result: ReadResult) => void) => {
    entry.members.delete(member);
    if (entry.members.size || shared.get(key) !== entry) return;
    shared.delete(key);
    entry.reads.stop();
    void entry.listening.then((listener) => listener.stop());
  };

  /**
   * Adds `member`: it gets the current state (at once when the last read is current, or with the
   * next read), then every later one, until the returned function is called.
   */
  async function join(
    key: string,
    options: SharedReadOptions,
    member: (result: ReadResult) => void,
  ): Promise<() => void> {
    let entry = shared.get(key);
    if (!entry) {
      const created: SharedRead = {
        members: new Set(),
        reads: coalescedReads(options.coalesceMs, async () => {
          const result = await options.read();
          created.latest = result;
          for (const each of [...created.members]) each(result);
        }),
        listening: undefined as never,
      };
      created.listening = options.listen(() => created.reads.changed());
      entry = created;
      shared.set(key, created);
      created.members.add(member);
      try {
        await created.listening;
      } catch (err) {
        leave(key, created, member);
        throw err;
      }
      // Listening first, then the first read: no change falls between the two.
      created.reads.changed();
    } else {
      // Checked before waiting: a read that ends meanwhile reaches the new member by itself.
      const current = entry.latest && entry.reads.settled ? entry.latest : undefined;
      entry.members.add(member);
      if (current) member(current);
      else await entry.listening;
    }
    const joined = entry;
    return () => leave(key, joined, member);
  }

  /** The current state, through the shared read (no read when the last one is current). */
  async function current(key: string, options: SharedReadOptions): Promise<ReadResult> {
    let answer!: (result: ReadResult) => void;
    const answered = new Promise<ReadResult>((resolve) => {
      answer = resolve;
    });
    const leave = await join(key, options, answer);
    try {
      return await answered;
    } finally {
      leave();
    }
  }

  return { join, current };
}
