import { SUBGRAPH_NAMES, type SubgraphName } from '@bilten/gateway';
import { openDatabase, runMain } from '@bilten/platform';
import { stackEnv } from './stack.ts';
import { freePort, type SupervisedService, superviseServices } from './supervisor.ts';

/** See `StackOptions.host`: the subgraphs trust the gateway's headers, so only it may reach them. */
const SUBGRAPH_HOST = '127.0.0.1';

const servicesEnv = stackEnv.refine((env) => env.NATS_URL, {
  path: ['NATS_URL'],
  message: 'required by npm run start:services: events cross processes on NATS JetStream',
});

/**
 * `npm run start:services`: every service in a process of its own, as in production, supervised:
 * one that exits by itself is started again (see superviseServices). The database is DATABASE_URL
 * or the embedded PostgreSQL `npm start` uses, started here once for all of them.
 */
await runMain('services', servicesEnv, async (env, log) => {
  const database = await openDatabase(env, log);
  // Port 0 means any free one, chosen once: a restarted service comes back where the gateway routes.
  const portOf = async (variable: string, configured: number | undefined) =>
    [variable, String(configured || (await freePort()))] as const;
  const ports = Object.fromEntries(
    await Promise.all([
      portOf('GATEWAY_PORT', env.GATEWAY_PORT),
      ...SUBGRAPH_NAMES.map((name) => {
        const variable = `${name.toUpperCase()}_PORT`;
        return portOf(variable, (env as unknown as Record<string, number>)[variable]);
      }),
    ]),
  );
  const local = (name: SubgraphName) => `http://${SUBGRAPH_HOST}:${ports[`${name.toUpperCase()}_PORT`]}`;
  const shared = { ...process.env, ...ports, DATABASE_URL: database.url };
  const subgraph = (name: SubgraphName): SupervisedService => ({
    name,
    script: `subgraphs/${name}/src/index.ts`,
    env: {
      ...shared,
      HOST: SUBGRAPH_HOST,
      // Where the others really are, unless set: each service's default is its usual port.
      AUTH_JWKS_URL: env.AUTH_JWKS_URL ?? `${local('identity')}/.well-known/jwks.json`,
      BRAND_ASSETS_URL: process.env.BRAND_ASSETS_URL || local('branding'),
    },
    readyUrl: `${local(name)}/readyz`,
  });
  const gateway: SupervisedService = {
    name: 'gateway',
    script: 'gateway/src/index.ts',
    env: {
      ...shared,
      ...Object.fromEntries(
        SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `${local(name)}/graphql`]),
      ),
    },
    readyUrl: `http://127.0.0.1:${ports.GATEWAY_PORT}/readyz`,
  };
  try {
    const supervisor = await superviseServices({
      log,
      groups: [
        // Identity first: it creates the `drizzle` schema every service's migrations share.
        [subgraph('identity')],
        SUBGRAPH_NAMES.filter((name) => name !== 'identity').map(subgraph),
        [gateway],
      ],
    });
    const stop = async () => {
      await supervisor.stop();
      await database.stop();
    };
    void supervisor.gaveUp.then(async (err) => {
      process.stderr.write(`services: ${err.message}; stopping every service\n`);
      await stop();
      process.exit(1);
    });
    process.stdout.write(
      `\nBilten is up, one process per service.\n  GraphQL:  http://localhost:${ports.GATEWAY_PORT}/graphql\n` +
        `  Database: ${database.embeddedPostgresDir ? `embedded PostgreSQL in ${database.embeddedPostgresDir}` : 'DATABASE_URL'}\n` +
        `  Processes: ${Object.entries(supervisor.pids())
          .map(([name, pid]) => `${name} ${pid}`)
          .join(', ')}\n\n`,
    );
    return { stop };
  } catch (err) {
    await database.stop();
    throw err;
  }
});
