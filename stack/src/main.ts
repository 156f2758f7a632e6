import { gatewayOptionsFromEnv } from '@bilten/gateway';
import { authFromEnv, openInfrastructure, runMain } from '@bilten/platform';
import { SUBGRAPHS, stackEnv, startStack } from './stack.ts';

/** `npm start`: the whole platform in one process, on embedded PostgreSQL unless DATABASE_URL is set. */
await runMain('bilten', stackEnv, async (env, log) => {
  const infrastructure = await openInfrastructure(env, log, 'stack');
  try {
    const {
      limits,
      blockFieldSuggestions,
      trustProxy,
      sandbox,
      operations,
      subscriptionLimits,
      rateLimits,
      idempotency,
      customDomains,
      tls,
      subgraphTls,
    } = gatewayOptionsFromEnv(env, log);
    const stack = await startStack({
      databaseUrl: infrastructure.databaseUrl,
      databasePoolSize: env.DATABASE_POOL_SIZE,
      bus: infrastructure.bus,
      log,
      // The gateway's; the subgraphs listen on loopback only (see startStack).
      host: env.HOST,
      ports: {
        gateway: env.GATEWAY_PORT,
        ...Object.fromEntries(SUBGRAPHS.map((definition) => [definition.name, definition.port(env)])),
      } as Parameters<typeof startStack>[0]['ports'],
      auth: authFromEnv(env),
      env: process.env,
      gateway: {
        limits,
        blockFieldSuggestions,
        trustProxy,
        sandbox,
        operations,
        subscriptionLimits,
        rateLimits,
        idempotency,
        customDomains,
        tls,
        subgraphTls,
      },
    });
    const sandboxLine = sandbox
      ? `${stack.gateway.url} (open in a browser)`
      : 'off (GATEWAY_SANDBOX=on serves it)';
    const metricsLine = stack.gateway.operationsUrl
      ? `${stack.gateway.operationsUrl}/metrics`
      : 'off (GATEWAY_OPS_PORT serves them)';
    process.stdout.write(
      `\nBilten is up.\n  GraphQL:        ${stack.gateway.url}\n  Apollo Sandbox: ${sandboxLine}\n` +
        `  REST reference: ${new URL('/api/docs', stack.gateway.url)}\n` +
        `  GraphiQL:       ${sandbox ? new URL('/graphiql', stack.gateway.url) : 'off (GATEWAY_SANDBOX=on serves it)'}\n` +
        `  Metrics:        ${metricsLine}\n` +
        `  Database:       ${infrastructure.embeddedPostgresDir ? `embedded PostgreSQL in ${infrastructure.embeddedPostgresDir}` : 'DATABASE_URL'}\n` +
        `  Event bus:      ${infrastructure.bus.kind}\n\n`,
    );
    return {
      async stop() {
        await stack.stop();
        await infrastructure.close();
      },
    };
  } catch (err) {
    await infrastructure.close();
    throw err;
  }
});
