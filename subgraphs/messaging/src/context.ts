import { type SubgraphContext, withLoaders } from '@bilten/platform';
import { createLoaders } from './db/loaders.ts';

export type Context = SubgraphContext<ReturnType<typeof createLoaders>>;

export const createContext = withLoaders(createLoaders);
