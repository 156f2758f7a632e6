/**
 * Issue 19, blue-green: `npm run deploy:rehearse` in a short mode. Blue and green are real
 * processes (gateway + six subgraphs each) on a scratch database; the expand migration runs while
 * blue serves; the switch moves traffic to green; blue drains and stops. No request may fail.
 */
import { createLogger } from '@bilten/platform';
import { expect, it } from 'vitest';
import { rehearseBlueGreen } from '../src/deploy-rehearse.ts';

it('switches from blue to green under load of reads and writes with no failed request', async () => {
  const result = await rehearseBlueGreen({
    adminDatabaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    loadSeconds: 2,
    concurrency: 3,
    log: createLogger({ service: 'deploy-rehearse', level: 'warn' }),
  });
  expect(result.failures).toEqual([]);
  expect(result.failed).toBe(0);
  // Both colors answered: blue before the switch, green after it.
  expect(result.servedBy.blue).toBeGreaterThan(0);
  expect(result.servedBy.green).toBeGreaterThan(0);
  expect(result.served).toBe(result.servedBy.blue + result.servedBy.green);
  expect(result.drainMs).toBeGreaterThanOrEqual(result.switchMs);
}, 240_000);
