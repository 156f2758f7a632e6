import { readFileSync } from 'node:fs';
import { connectJetStreamBus, natsTlsFrom, runMain } from '@bilten/platform';
import { gatewayEnv, subgraphUrlsFrom } from './config.ts';
import { gatewayOptionsFromEnv, startGateway } from './server.ts';
import { configFileIn, SUPERGRAPH_FILE } from './supergraph-reload.ts';

await runMain('gateway', gatewayEnv, async (env, log) => {
  // Subscriptions hear the subgraphs' events on NATS; without NATS_URL a gateway alone serves none.
  const bus = env.NATS_URL
    ? await connectJetStreamBus({
        url: env.NATS_URL,
        stream: env.NATS_STREAM,
        subjectPrefix: env.NATS_SUBJECT_PREFIX,
        replicas: env.NATS_STREAM_REPLICAS,
        name: 'bilten-gateway',
        log,
        tls: natsTlsFrom(env),
      })
    : undefined;
  const gateway = await startGateway({
    ...gatewayOptionsFromEnv(env, log),
    supergraphSdl: readFileSync(
      env.SUPERGRAPH_PATH
        ? configFileIn(env.SUPERGRAPH_PATH, SUPERGRAPH_FILE)
        : new URL('../../schema/supergraph.graphql', import.meta.url),
      'utf8',
    ),
    supergraphPath: env.SUPERGRAPH_PATH,
    settingsPath: env.GATEWAY_SETTINGS_PATH,
    subgraphUrls: subgraphUrlsFrom(env),
    bus,
  }).catch(async (err) => {
    await bus?.close();
    throw err;
  });
  return {
    // SIGHUP re-reads the watched files when there are some; otherwise it stops, as for every service.
    ...(env.SUPERGRAPH_PATH || env.GATEWAY_SETTINGS_PATH ? { reload: () => gateway.reload() } : {}),
    async stop() {
      await gateway.stop();
      await bus?.close();
    },
  };
});
