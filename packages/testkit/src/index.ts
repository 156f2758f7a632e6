export * from './bus.ts';
export * from './database.ts';
export * from './graphql.ts';
export * from './logs.ts';
export * from './metrics.ts';
export * from './proxy.ts';
export * from './subgraph.ts';
export * from './tokens.ts';
