import { defineSubgraph, type EncryptedColumn } from '@bilten/platform';
import { createUnsubscribeLinks, registerUnsubscribe } from './adapters/unsubscribe-links.ts';
import { messagingEnv } from './config.ts';
import { createContext } from './context.ts';
import { eventStore, RECIPIENT_EMAIL_COLUMN } from './db/schema.ts';
import { optOut } from './domain/preferences.ts';
import { consumers } from './events.ts';
import { resolvers } from './resolvers/index.ts';

/** Signs the one-click opt-out links; for the stack's tests, which follow them through the gateway. */
export { createUnsubscribeLinks };

/** Messaging's encrypted columns, for `npm run keys:rotate`. */
export const encryptedColumns: EncryptedColumn[] = [RECIPIENT_EMAIL_COLUMN];

export const messagingSubgraph = defineSubgraph({
  name: 'messaging',
  directory: new URL('../', import.meta.url),
  config: messagingEnv,
  port: (config) => config.MESSAGING_PORT,
  resolvers,
  eventTables: eventStore,
  createContext,
  consumers,
  async setup({ config, db, log }) {
    const links = createUnsubscribeLinks({ env: config, gateway: config.PUBLIC_GATEWAY_URL });
    return {
      services: undefined,
      // `/unsubscribe`, which the gateway serves at its own door (gateway/src/unsubscribe.ts).
      routes: (app) => registerUnsubscribe(app, { links, optOut: (target) => optOut(db, target), log }),
    };
  },
});
