#!/usr/bin/env bash
# deploy/local/clean.sh — stop every local test server and delete all their data.
# The Kafka jar cache (outside the repo) is kept. Run by `make env-clean`.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
. "$here/common.sh"

bash "$here/down.sh"
case "$WALSHIP_ENV_DIR" in
  ""|/|"$HOME"|"$WALSHIP_ROOT") die "refusing to delete WALSHIP_ENV_DIR=$WALSHIP_ENV_DIR" ;;
esac
rm -rf "$WALSHIP_ENV_DIR"
log "deleted $WALSHIP_ENV_DIR"
