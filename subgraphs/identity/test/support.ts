/** What identity's test files share. */

/** Identity verifies the tokens it signs with its own keys, not with the testkit's signer. */
export const OWN_TOKENS = { trustTestSigner: false } as const;

/** Every test signs up from 127.0.0.1: lift the per-address sign-up limit. */
export const MANY_SIGNUPS = { AUTH_REGISTRATIONS_PER_IP_PER_HOUR: '10000' };
