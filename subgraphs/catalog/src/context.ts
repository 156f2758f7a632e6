import { type SubgraphContext, withLoaders } from '@bilten/platform';
import { createLoaders } from './db/loaders.ts';

export type Context = SubgraphContext<ReturnType<typeof createLoaders>>;

/** What a catalog mutation needs from the request; a consumer's change has no client address. */
export type MutationContext = Pick<Context, 'db' | 'viewer' | 'outbox' | 'requestId' | 'userAgent'> & {
  clientIp: string | null;
};

export const createContext = withLoaders(createLoaders);
