import {
  createBrandImages,
  defineSubgraph,
  personKeysFromEnv,
  startUsageJumpWatch,
  usageJumpRulesOf,
} from '@bilten/platform';
import { registerTicketFiles } from './adapters/ticket-files.ts';
import { createTicketKeys } from './adapters/ticket-keys.ts';
import { ordersEnv } from './config.ts';
import { createContext, type OrdersServices } from './context.ts';
import type { OrdersPeople } from './db/person-data.ts';
import { eventStore, personKeys, usage } from './db/schema.ts';
import { sealPlaintextData } from './db/seal-plaintext.ts';
import { startExpirySweep } from './domain/expiry-sweep.ts';
import { paidOrderServices } from './domain/order-payments.ts';
import { startWaitingListSweep } from './domain/waiting-list.ts';
import * as published from './events.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

export const ordersSubgraph = defineSubgraph({
  name: 'orders',
  directory: new URL('../', import.meta.url),
  config: ordersEnv,
  port: (config) => config.ORDERS_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  securityEvents: published.securityEventsRecorded,
  async setup({ config, db, log }) {
    const ticketKeys = createTicketKeys(config);
    await ticketKeys.ensureKey(db, log);
    const people: OrdersPeople = {
      keys: personKeysFromEnv(db, personKeys, config),
      guests: personKeysFromEnv(db, personKeys, config, { renewAfterShred: true }).vault,
    };
    // Rows written before per-person keys are sealed before the first request reads them.
    const sealed = await sealPlaintextData(db, people);
    if (sealed) log.info({ sealed }, 'sealed personal data written before per-person keys');
    const services: OrdersServices = {
      reservationTtlSeconds: config.RESERVATION_TTL_SECONDS,
      ticketKeys,
      paidOrders: paidOrderServices(config, people, ticketKeys),
      guestHoldsPerAddress: config.GUEST_HOLDS_PER_ADDRESS,
      people,
    };
    return {
      services,
      // `GET /tickets/{id}.pdf` and the QR page `GET /tickets/{id}`, which the gateway serves at
      // its own door (gateway/src/subgraph-files.ts), with logos fetched from branding by hash.
      routes: (app, { verifyToken }) =>
        registerTicketFiles(app, {
          db,
          people,
          ticketLinks: services.paidOrders.ticketLinks,
          verifyToken,
          brandImages: createBrandImages({ assetsUrl: config.BRAND_ASSETS_URL }),
          publicGatewayUrl: config.PUBLIC_GATEWAY_URL,
        }),
      // Waiting-list offers: released stock goes to the line by itself (domain/waiting-list.ts);
      // what lapses by time alone is recorded and announced (domain/expiry-sweep.ts).
      // And usage jumps announced (platform usage.ts, issue 19).
      background: (deps) => {
        const { db: eventsDb, outbox, log: sweepLog } = deps;
        const sweeps = [
          startWaitingListSweep(
            {
              db: eventsDb,
              outbox,
              log: sweepLog,
              people,
              offerTtlSeconds: config.WAITING_LIST_OFFER_TTL_SECONDS,
            },
            config.WAITING_LIST_SWEEP_MS,
          ),
          startExpirySweep({ db: eventsDb, outbox, log: sweepLog }, config.EXPIRY_SWEEP_MS),
          startUsageJumpWatch(deps, {
            tables: usage,
            event: published.usageJumped,
            rules: usageJumpRulesOf(config),
            intervalMs: config.USAGE_JUMP_CHECK_MS,
          }),
        ];
        return { stop: async () => void (await Promise.all(sweeps.map((sweep) => sweep.stop()))) };
      },
    };
  },
});
