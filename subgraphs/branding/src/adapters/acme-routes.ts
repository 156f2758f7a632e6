import { type Database, plainTextReply } from '@bilten/platform';
import type { FastifyInstance } from 'fastify';
import { acmeChallengeAnswer } from '../db/certificates.ts';

/** What an ACME token may look like (base64url, RFC 8555 §8.3); anything else is not looked up. */
export const ACME_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * `GET /internal/acme-challenge/{token}`: the key authorization of an HTTP-01 challenge under way,
 * as text/plain, which the gateway serves at `/.well-known/acme-challenge/{token}` on every host
 * (gateway/src/acme-challenges.ts). 404 for an unknown or expired token. Any replica answers:
 * challenges are in the database, stored before the CA is told to validate.
 */
export function registerAcmeChallengeRoute(app: FastifyInstance, { db }: { db: Database }) {
  // A wildcard, not `:token`: Fastify answers 414 for parameters over 100 characters.
  app.get<{ Params: { '*': string } }>('/internal/acme-challenge/*', async (request, reply) => {
    const token = request.params['*'];
    if (!ACME_TOKEN.test(token)) return plainTextReply(reply, 404, 'no such challenge');
    const answer = await acmeChallengeAnswer(db, token);
    if (answer === undefined) return plainTextReply(reply, 404, 'no such challenge');
    return plainTextReply(reply, 200, answer);
  });
}
