#!/bin/sh
# Starts the one Bilten service named by $SERVICE; the image holds them all.
set -eu

services='gateway identity catalog orders billing messaging branding'

case "${SERVICE:-}" in
  gateway)
    entry=gateway/src/index.ts ;;
  identity | catalog | orders | billing | messaging | branding)
    entry="subgraphs/$SERVICE/src/index.ts" ;;
  '')
    echo "docker-entrypoint: SERVICE is not set; set it to one of: $services" >&2
    exit 64 ;;
  *)
    echo "docker-entrypoint: unknown SERVICE '$SERVICE'; expected one of: $services" >&2
    exit 64 ;;
esac

# exec, and node itself rather than `npx tsx` (npm + tsx's own parent process): one process that
# receives SIGTERM directly and shuts down within SHUTDOWN_TIMEOUT_MS. tsx caches under /tmp.
exec node --import tsx "$entry" "$@"
