#!/usr/bin/env bash
# deploy/local/install-deps.sh — install the server packages the local test
# environment needs (Debian 12). Idempotent and silent when all is present.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }

have mariadbd || have mysqld                 || missing+=(mariadb-server)
have mariadb-install-db                      || missing+=(mariadb-server)
have mariadb-admin && have mariadb           || missing+=(mariadb-client)
[[ -x "$WALSHIP_PG_BIN/initdb" ]]            || missing+=("postgresql-$WALSHIP_PG_MAJOR")
[[ -x "$WALSHIP_PG_BIN/pg_isready" ]] || have pg_isready || missing+=("postgresql-client-$WALSHIP_PG_MAJOR")
have java && have keytool                       || missing+=(default-jre-headless)   # keytool: the Kafka TLS listener's certificate
have openssl                                 || missing+=(openssl)        # the PostgreSQL TLS test's certificate
have mvn                                     || missing+=(maven)
have runuser && have flock                   || missing+=(util-linux)
have chromium                                || missing+=(chromium)          # cmd/walship/dashboard_browser_test.go: headless browser (CDP)
have chromedriver                            || missing+=(chromium-driver)
have promtool                                || missing+=(prometheus)   # deploy/deploy_test.go: promtool check rules/config

[[ ${#missing[@]} -eq 0 ]] && exit 0

# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
[[ "$(id -u)" == 0 ]] || die "missing packages (${missing[*]}); run as root or install them: apt-get install ${missing[*]}"

log "==> installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep apt from auto-starting the packaged mariadb/postgresql services (ports
# 3306/5432): we run our own servers. policy-rc.d is removed again on exit.
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/walship-apt-install.log 2>&1 || {
  log_tail /tmp/walship-apt-install.log 60
  die "apt-get install ${missing[*]} failed"
}

# If a packaged MariaDB service was started anyway, stop it: it is not ours.
if [[ -x /etc/init.d/mariadb ]] && /etc/init.d/mariadb status >/dev/null 2>&1; then
  log "==> stopping the Debian-packaged mariadb service (walship uses its own servers)"
  /etc/init.d/mariadb stop >/dev/null 2>&1 || warn "could not stop the packaged mariadb service"
fi
# Likewise the packaged Prometheus (port 9090): only its promtool is used.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
log "==> packages installed"
