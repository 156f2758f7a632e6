import { type SubgraphContext, withLoaders } from '@bilten/platform';
import { createLoaders } from './db/loaders.ts';

export type Context = SubgraphContext<ReturnType<typeof createLoaders>>;

/** What a catalog mutation needs from the request. */
export type MutationContext = Pick<
  Context,
  'db' | 'viewer' | 'outbox' | 'requestId' | 'clientIp' | 'userAgent'
>;

export const createContext = withLoaders(createLoaders);
