/** Worker-thread entry: the relay and the consumer on their own event loop (see startEventSideInWorker). */
import { parentPort, workerData } from 'node:worker_threads';
import { type EventSide, type EventSideConfig, startEventSide, type WorkerMessage } from './event-side.ts';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

// Stamps go to the main thread in small batches; each keeps the time it was taken.
let pubAcks: Array<[string, number]> = [];
let effects: Array<[string[], number]> = [];
const flush = setInterval(() => {
  if (!pubAcks.length && !effects.length) return;
  post({ kind: 'stamps', pubAcks, effects });
  pubAcks = [];
  effects = [];
}, 5);

let side: EventSide;
try {
  side = await startEventSide(
    workerData as EventSideConfig,
    {
      onPubAck: (id, at) => pubAcks.push([id, at]),
      onEffects: (ids, at) => effects.push([ids, at]),
    },
    { countWrites: true },
  );
  post({ kind: 'ready' });
} catch (err) {
  post({ kind: 'failed', message: (err as Error).message });
  throw err;
}

port.on('message', async ({ id, command }: { id: number; command: keyof EventSide }) => {
  try {
    const result = await side[command]();
    if (command === 'stop') clearInterval(flush);
    post({ kind: 'reply', id, result });
  } catch (err) {
    post({ kind: 'reply', id, error: (err as Error).message });
  }
});
