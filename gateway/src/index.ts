import { readFileSync } from 'node:fs';
import { connectJetStreamBus, natsTlsFrom, runMain } from '@bilten/platform';
import { gatewayEnv, subgraphUrlsFrom } from './config.ts';
import { gatewayOptionsFromEnv, startGateway } from './server.ts';

await runMain('gateway', gatewayEnv, async (env, log) => {
  // Subscriptions hear the subgraphs' events on NATS; without NATS_URL a gateway alone serves none.
  const bus = env.NATS_URL
    ? await connectJetStreamBus({
        url: env.NATS_URL,
        stream: env.NATS_STREAM,
        subjectPrefix: env.NATS_SUBJECT_PREFIX,
        name: 'bilten-gateway',
        log,
        tls: natsTlsFrom(env),
      })
    : undefined;
  const gateway = await startGateway({
    ...gatewayOptionsFromEnv(env, log),
    supergraphSdl: readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8'),
    subgraphUrls: subgraphUrlsFrom(env),
    bus,
  }).catch(async (err) => {
    await bus?.close();
    throw err;
  });
  return {
    async stop() {
      await gateway.stop();
      await bus?.close();
    },
  };
});
