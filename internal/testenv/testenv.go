package testenv

import (
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	EnvIntegration   = "WALSHIP_INTEGRATION"
	EnvPGSource      = "WALSHIP_TEST_PG_SOURCE"
	EnvPGFollower    = "WALSHIP_TEST_PG_FOLLOWER"
	EnvMySQLSource   = "WALSHIP_TEST_MYSQL_SOURCE"
	EnvMySQLFollower = "WALSHIP_TEST_MYSQL_FOLLOWER"
	EnvKafka         = "WALSHIP_TEST_KAFKA"
)

// dialTimeout bounds the reachability check of each server.
const dialTimeout = 3 * time.Second

// Integration skips t unless WALSHIP_INTEGRATION=1.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvIntegration) != "1" {
		t.Skipf("integration test: set %s=1 and start the servers (make env-up), or run make test", EnvIntegration)
	}
}

// PGSource returns the PostgreSQL source URL (wal_level=logical).
func PGSource(t testing.TB) string { t.Helper(); return server(t, EnvPGSource, pgAddr) }

// PGFollower returns the PostgreSQL follower URL.
func PGFollower(t testing.TB) string { t.Helper(); return server(t, EnvPGFollower, pgAddr) }

// MySQLSource returns the MariaDB source DSN (go-sql-driver/mysql form, row binlog).
func MySQLSource(t testing.TB) string { t.Helper(); return server(t, EnvMySQLSource, mysqlAddr) }

// MySQLFollower returns the MariaDB follower DSN (go-sql-driver/mysql form).
func MySQLFollower(t testing.TB) string { t.Helper(); return server(t, EnvMySQLFollower, mysqlAddr) }

// Kafka returns the Kafka bootstrap address list, comma-separated.
func Kafka(t testing.TB) string { t.Helper(); return server(t, EnvKafka, kafkaAddr) }

// server implements the contract of the helpers: gate, read, parse, dial.
func server(t testing.TB, env string, addrOf func(string) (network, addr string, err error)) string {
	t.Helper()
	Integration(t)
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		unavailable(t, "%s is not set (source deploy/local/env.sh, or run make test)", env)
		return ""
	}
	network, addr, err := addrOf(v)
	if err != nil {
		unavailable(t, "%s: %v", env, err)
		return ""
	}
	if err := dial(network, addr); err != nil {
		unavailable(t, "%s: cannot reach %s (%v); start the servers with make env-up", env, addr, err)
		return ""
	}
	return v
}

// unavailable fails the test in CI or integration mode and skips it otherwise.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv(EnvIntegration) == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func dial(network, addr string) error {
	c, err := net.DialTimeout(network, addr, dialTimeout)
	if err != nil {
		return err
	}
	return c.Close()
}

// pgAddr extracts host:port from a postgres:// URL or a key=value DSN.
func pgAddr(dsn string) (string, string, error) {
	host, port := "", "5432"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", errors.New("not a valid postgres URL")
		}
		// A multi-host URL (host1:port1,host2:port2): the first host.
		first, _, _ := strings.Cut(u.Host, ",")
		if h, p, err := net.SplitHostPort(first); err == nil {
			host, port = h, p
		} else {
			host = first
		}
	} else {
		for _, f := range strings.Fields(dsn) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "host":
				host = v
			case "port":
				port = v
			}
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if strings.HasPrefix(host, "/") { // unix socket directory
		return "unix", host + "/.s.PGSQL." + port, nil
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// mysqlAddr extracts the address from a go-sql-driver DSN: user:pass@tcp(host:port)/db.
func mysqlAddr(dsn string) (string, string, error) {
	at := strings.LastIndex(dsn, "@")
	rest := dsn[at+1:]
	for _, network := range []string{"tcp", "unix"} {
		if strings.HasPrefix(rest, network+"(") {
			end := strings.Index(rest, ")")
			if end < 0 {
				return "", "", errors.New("unbalanced parenthesis in DSN address")
			}
			addr := rest[len(network)+1 : end]
			if network == "tcp" {
				if _, _, err := net.SplitHostPort(addr); err != nil {
					addr = net.JoinHostPort(addr, "3306")
				}
			}
			return network, addr, nil
		}
	}
	if strings.HasPrefix(rest, "/") || rest == "" {
		return "tcp", "127.0.0.1:3306", nil
	}
	return "", "", errors.New("DSN has no tcp(host:port) or unix(path) address")
}

// kafkaAddr takes the first broker of a comma-separated list.
func kafkaAddr(brokers string) (string, string, error) {
	first, _, _ := strings.Cut(brokers, ",")
	first = strings.TrimSpace(first)
	if _, _, err := net.SplitHostPort(first); err != nil {
		return "", "", errors.New("broker address is not host:port")
	}
	return "tcp", first, nil
}
