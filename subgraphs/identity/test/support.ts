/** What identity's test files share. */
import type { GqlResult } from '@bilten/testkit';

/** Identity verifies the tokens it signs with its own keys, not with the testkit's signer. */
export const OWN_TOKENS = { trustTestSigner: false } as const;

/** Every test signs up (and resets, resends) from 127.0.0.1: lift the per-address limits. */
export const MANY_SIGNUPS = {
  AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000',
  RATE_LIMIT_SIGN_UP: 'off',
  RATE_LIMIT_PASSWORD_RESET: 'off',
  RATE_LIMIT_VERIFICATION_RESEND: 'off',
};

/** The `extensions.code` of a request's first top-level error, if any. */
export const codeOf = (result: Pick<GqlResult<unknown>, 'errors'>) => result.errors?.[0]?.extensions?.code;

/** The claims of a JWT, decoded without verifying it. */
export const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
