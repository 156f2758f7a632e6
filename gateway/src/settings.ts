import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ConfigError, type Logger } from '@bilten/platform';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import {
  type RateLimiter,
  type RateLimitOptions,
  rateLimitPoliciesFrom,
  ratePlansFrom,
} from './rate-limits.ts';
import { configFileIn, watchConfigFile } from './supergraph-reload.ts';

/*
 * GATEWAY_SETTINGS_PATH: settings changed at run time, without a restart, from a JSON file (or a
 * directory holding `settings.json`, a mounted ConfigMap), re-read when it changes and on SIGHUP.
 * A key left out keeps the value the gateway started with (LOG_LEVEL, GATEWAY_RATE_LIMIT,
 * GATEWAY_RATE_LIMIT_PLANS); invalid settings are refused whole, logged and counted, and the ones
 * in force stay.
 */

/** The file read in a GATEWAY_SETTINGS_PATH that is a directory. */
export const SETTINGS_FILE = 'settings.json';

const settingsFile = z
  .object({
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    /** GATEWAY_RATE_LIMIT's syntax: `off`, or `user=6000/60,address=3000/60`. */
    rateLimit: z.string().optional(),
    /** GATEWAY_RATE_LIMIT_PLANS's syntax: `standard=6000/60s,partner=60000/60s`. */
    rateLimitPlans: z.string().optional(),
    /** Switches operators flip without a deploy. */
    features: z
      .object({
        /** Maintenance: mutations are refused (503 UNAVAILABLE) while reads go on. */
        readOnly: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  // A misspelt key is refused rather than silently doing nothing.
  .strict();

type RateLimitPolicySet = Pick<RateLimitOptions, 'policies' | 'plans'>;

/** The feature switches in force, read by the plugins they steer (one object, updated in place). */
export interface GatewayFeatures {
  readOnly: boolean;
}

export interface GatewaySettings {
  logLevel: string;
  features: GatewayFeatures;
  /** undefined: no limit. */
  rateLimits?: RateLimitPolicySet;
}

/** The settings `text` names, over `started` (what the gateway started with); throws naming what is wrong. */
export function settingsFrom(text: string, started: GatewaySettings): GatewaySettings {
  const parsed = settingsFile.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
    );
  }
  const file = parsed.data;
  let rateLimits = started.rateLimits;
  if (file.rateLimit !== undefined || file.rateLimitPlans !== undefined) {
    // The plans are read against the policies they come with: a plan left out is the standard one.
    const policies =
      file.rateLimit === undefined ? started.rateLimits?.policies : rateLimitPoliciesFrom(file.rateLimit);
    rateLimits = policies && { policies, plans: ratePlansFrom(file.rateLimitPlans ?? '', policies.apiKey) };
  }
  return {
    logLevel: file.logLevel ?? started.logLevel,
    features: { readOnly: file.features?.readOnly ?? started.features.readOnly },
    rateLimits,
  };
}

export interface RuntimeSettings {
  /** Reads the file again; applies it when valid and changed. */
  reload(): 'applied' | 'unchanged' | 'refused';
  close(): void;
}

/**
 * Applies the settings at `configPath` now (invalid ones stop the start-up, as a bad variable
 * would) and whenever the file changes. `rateLimiter` is the gateway's, when GATEWAY_RATE_LIMIT
 * is on: rate limits cannot be turned on at run time without one.
 */
export function watchSettings(
  configPath: string,
  options: {
    log: Logger;
    registry: Registry;
    features: GatewayFeatures;
    rateLimiter?: RateLimiter;
    rateLimits?: RateLimitPolicySet;
  },
): RuntimeSettings {
  const { log, rateLimiter } = options;
  const file = configFileIn(configPath, SETTINGS_FILE);
  const started: GatewaySettings = {
    logLevel: log.level,
    features: { ...options.features },
    rateLimits: options.rateLimits,
  };
  const reloads = new Counter({
    name: 'gateway_settings_reloads_total',
    help: 'Changed runtime settings seen in GATEWAY_SETTINGS_PATH, by outcome: applied or refused (invalid)',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const digest = (text: string) => createHash('sha256').update(text).digest('hex');
  let current = '';

  function validated(text: string): GatewaySettings {
    const settings = settingsFrom(text, started);
    if (settings.rateLimits && !rateLimiter)
      throw new Error('rateLimit: GATEWAY_RATE_LIMIT is off at start-up');
    return settings;
  }

  function apply(text: string, settings: GatewaySettings) {
    current = digest(text);
    log.level = settings.logLevel;
    Object.assign(options.features, settings.features);
    rateLimiter?.configure(settings.rateLimits);
  }

  function reload(): 'applied' | 'unchanged' | 'refused' {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      log.warn({ err, file }, 'settings unreadable, keeping the ones in force');
      return 'unchanged';
    }
    if (digest(text) === current) return 'unchanged';
    let settings: GatewaySettings;
    try {
      settings = validated(text);
    } catch (err) {
      // Remembered, so the same refused text is not refused again on every unrelated event.
      current = digest(text);
      reloads.inc({ outcome: 'refused' });
      log.error({ reason: (err as Error).message, file }, 'settings refused, keeping the ones in force');
      return 'refused';
    }
    apply(text, settings);
    reloads.inc({ outcome: 'applied' });
    log.info({ file, logLevel: settings.logLevel, features: settings.features }, 'settings applied');
    return 'applied';
  }

  const text = readFileSync(file, 'utf8');
  try {
    apply(text, validated(text));
  } catch (err) {
    throw new ConfigError([`GATEWAY_SETTINGS_PATH: ${file}: ${(err as Error).message}`]);
  }
  const watcher = watchConfigFile(file, () => void reload());
  return { reload, close: () => watcher.close() };
}

/** `features.readOnly`: a mutation is refused before it is planned, so nothing reaches a subgraph. */
export function readOnlySwitch<Context extends BaseContext>(
  features: GatewayFeatures,
): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (features.readOnly && operation?.operation === OperationTypeNode.MUTATION) {
            throw new GraphQLError(
              'Bilten is read-only for maintenance: changes are refused for a moment, reads work. Try again shortly.',
              {
                extensions: {
                  code: 'UNAVAILABLE',
                  http: { status: 503, headers: new Map([['retry-after', '60']]) },
                },
              },
            );
          }
        },
      };
    },
  };
}
