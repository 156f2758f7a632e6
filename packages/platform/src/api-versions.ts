/**
 * The dated versions of the REST facade (`Bilten-Version`, Stripe's model), oldest first. An API
 * key is pinned on the newest when it is created (identity); a call may name any of them. The
 * gateway turns the newest answer into an older version's shape with the transformers of
 * gateway/src/versions/.
 */
export const API_VERSIONS = ['2026-12-06', '2026-12-07'] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];
export const CURRENT_API_VERSION: ApiVersion = API_VERSIONS[API_VERSIONS.length - 1]!;
