import type { ApolloServerPlugin } from '@apollo/server';
import { gatewayUsageRecorded } from '@bilten/contracts/gateway';
import { type EventBus, hourOf, type Logger, newEvent } from '@bilten/platform';
import type { Credential } from './access-tokens.ts';
import { answerCost } from './query-cost.ts';

/**
 * Usage metering of API-key calls (issue 19): each operation an organization's API key runs
 * through /graphql (the REST facade included, it runs there too) counts one API call and the cost
 * its answer really held (query-cost.ts answerCost, what rate limits charge). The gateway has no
 * database: counts add up in memory per (organization, hour) and go out every flush interval as
 * `gatewayUsageRecorded` events (a fresh event id each, JetStream's message id), which identity
 * adds to its rollups once each. A crash loses at most what one interval gathered; a failed
 * publish keeps its counts for the next flush.
 */

interface Tally {
  organizationId: string;
  hour: Date;
  apiCalls: number;
  graphqlCost: number;
}

export interface UsageMeterOptions {
  bus: EventBus;
  log: Logger;
  /** What the gateway knows of a caller's credential (cached by the token exchange). */
  credentialFor: (authorization: string | undefined) => Promise<Credential>;
  /** How often the counts are published (default 10 s). */
  flushIntervalMs?: number;
}

export interface UsageMeter {
  plugin: ApolloServerPlugin;
  /** Publishes what was counted so far (at every interval, at shutdown, and when a test asks). */
  flush(): Promise<void>;
  /** Stops the interval and flushes once more. */
  stop(): Promise<void>;
}

export function createUsageMeter(options: UsageMeterOptions): UsageMeter {
  const { bus, log } = options;
  let tallies = new Map<string, Tally>();

  const add = (tally: Tally) => {
    const key = `${tally.organizationId}|${tally.hour.toISOString()}`;
    const current = tallies.get(key);
    if (!current) tallies.set(key, { ...tally });
    else {
      current.apiCalls += tally.apiCalls;
      current.graphqlCost += tally.graphqlCost;
    }
  };

  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    // One flush at a time, so a slow publish never sends a tally twice.
    flushing = flushing.then(async () => {
      const taken = [...tallies.values()];
      tallies = new Map();
      for (const tally of taken) {
        const event = newEvent(gatewayUsageRecorded, tally.organizationId, 1, {
          organizationId: tally.organizationId,
          hour: tally.hour.toISOString(),
          apiCalls: tally.apiCalls,
          graphqlCost: tally.graphqlCost,
        });
        await bus.publish(event).catch((err) => {
          log.warn(
            { err, organizationId: tally.organizationId },
            'usage not published: kept for the next flush',
          );
          add(tally);
        });
      }
    });
    return flushing;
  };

  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 10_000);
  timer.unref();

  const plugin: ApolloServerPlugin = {
    async requestDidStart({ request }) {
      const authorization = request.http?.headers.get('authorization') ?? undefined;
      if (!authorization) return;
      // Asked now, while this request's exchange is cached: after a mutation the cache is
      // cleared (forgetAfterMutations), and asking then would exchange the caller's token again.
      const credential = await options.credentialFor(authorization).catch(() => undefined);
      const organizationId = credential?.apiKey?.organizationId;
      if (!organizationId) return;
      return {
        async willSendResponse({ response }) {
          const data = response.body.kind === 'single' ? response.body.singleResult.data : undefined;
          add({ organizationId, hour: hourOf(new Date()), apiCalls: 1, graphqlCost: answerCost(data) });
        },
      };
    },
  };

  return {
    plugin,
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
