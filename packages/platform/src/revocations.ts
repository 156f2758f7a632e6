import { apiKeyRevoked, organizationClosed, sessionsRevoked } from '@bilten/contracts/identity';
import type { z } from 'zod';
import { ACCESS_TOKEN_MAX_AGE_SECONDS, type Viewer } from './auth.ts';
import { type DomainEvent, decodeEvent, type EventBus, type EventDefinition } from './events.ts';
import type { Logger } from './logger.ts';

/**
 * How long a revocation is remembered: every token it concerns was issued before it, and no token
 * is accepted once older than ACCESS_TOKEN_MAX_AGE_SECONDS; a minute more for clocks that differ.
 */
const REMEMBER_MS = (ACCESS_TOKEN_MAX_AGE_SECONDS + 60) * 1000;
const SWEEP_EVERY_MS = 60_000;

export interface Revocations {
  /**
   * Whether the token a verified caller presented was revoked: its session ended, or its API key
   * was revoked or its organization closed.
   */
  revoked(viewer: Viewer): boolean;
  stop(): Promise<void>;
}

type Kind = 'session' | 'apiKey' | 'organization';

/**
 * Identity's revocations, followed on the bus into this process's memory: every request checks
 * them, so a lookup costs a map read and no round trip, and each process (every replica of every
 * service, the gateway too) hears every revocation within milliseconds of its commit. A process
 * starts by reading the revocations of the last REMEMBER_MS, so a restart forgets none that
 * still matters.
 */
export async function followRevocations(bus: EventBus, log: Logger): Promise<Revocations> {
  const forgetAt: Record<Kind, Map<string, number>> = {
    session: new Map(),
    apiKey: new Map(),
    organization: new Map(),
  };
  let sweptAt = Date.now();
  function remember(kind: Kind, id: string, occurredAt: string) {
    const now = Date.now();
    if (now - sweptAt > SWEEP_EVERY_MS) {
      sweptAt = now;
      for (const map of Object.values(forgetAt)) {
        for (const [key, at] of map) if (at <= now) map.delete(key);
      }
    }
    forgetAt[kind].set(id, Date.parse(occurredAt) + REMEMBER_MS);
  }
  const isRevoked = (kind: Kind, id: string) => (forgetAt[kind].get(id) ?? 0) > Date.now();

  const since = new Date(Date.now() - REMEMBER_MS);
  const follow = <S extends z.ZodType>(
    definition: EventDefinition<S>,
    apply: (event: DomainEvent<z.output<S>>) => void,
  ) =>
    bus.follow(definition.type, since, (message) => {
      try {
        apply(decodeEvent(message.data, definition));
      } catch (err) {
        log.warn({ err, type: definition.type }, 'unreadable revocation ignored');
      }
    });
  const followers = await Promise.all([
    follow(sessionsRevoked, ({ payload, occurredAt }) => {
      for (const id of payload.sessionIds) remember('session', id, occurredAt);
    }),
    follow(apiKeyRevoked, ({ payload, occurredAt }) => remember('apiKey', payload.apiKeyId, occurredAt)),
    follow(organizationClosed, ({ payload, occurredAt }) =>
      remember('organization', payload.organizationId, occurredAt),
    ),
  ]);

  return {
    revoked(viewer) {
      if (viewer.kind === 'user')
        return viewer.sessionId !== undefined && isRevoked('session', viewer.sessionId);
      if (viewer.kind === 'apiKey')
        return isRevoked('apiKey', viewer.keyId) || isRevoked('organization', viewer.organizationId);
      return false;
    },
    async stop() {
      await Promise.all(followers.map((follower) => follower.stop()));
    },
  };
}
