# syntax=docker/dockerfile:1
# One image for every Bilten service. SERVICE (gateway | identity | catalog | orders | billing |
# messaging | branding) picks the one a container runs; see docker-entrypoint.sh.
#   docker build -t bilten .
#   docker run --rm -e SERVICE=identity -e DATABASE_URL=... -e NATS_URL=... bilten
# TypeScript runs directly through tsx (a runtime dependency), so there is no build step.

FROM node:20-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

# Just the npm manifests (root + every workspace), paths kept, and patches/ that the install
# applies (patch-package). `COPY --from=manifests` below is cached by content, so editing source
# code does not re-install, and a new workspace needs no edit here.
FROM base AS manifests
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json ! -path './patches/*' -delete \
 && find . -mindepth 1 -type d -empty -delete

FROM base AS deps
COPY --from=manifests /app ./
# `npm install` with the committed lock, not `npm ci`: the lock is written where the registry lacks
# some other-platform builds, so it lacks those optional packages and `npm ci` calls it out of
# sync. Every version still comes from the lock.
RUN --mount=type=cache,target=/root/.npm npm install --omit=dev --no-audit --no-fund

FROM base AS runtime
# Code and dependencies stay owned by root: the `node` user can read them but not change them.
COPY --from=deps /app ./
COPY . .
COPY --chmod=0755 docker-entrypoint.sh ./
USER node
# gateway 4000; identity 4001, catalog 4002, orders 4003, billing 4004, messaging 4005, branding 4006
EXPOSE 4000 4001 4002 4003 4004 4005 4006
# No HEALTHCHECK here: the port depends on SERVICE, and docker-compose.yml / k8s probe each
# service's own /readyz and /livez.
ENTRYPOINT ["/app/docker-entrypoint.sh"]
