// Package testenv connects integration tests to the local test servers.
//
// Integration tests call [Integration] first, directly or through one of the
// server helpers. It skips the test unless WALSHIP_INTEGRATION=1, so a plain
// `go test ./...` runs only unit tests and needs no servers.
//
// The server helpers [PGSource], [PGFollower], [MySQLSource], [MySQLFollower]
// and [Kafka] return the address of one server, read from the environment:
//
//	WALSHIP_TEST_PG_SOURCE      postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable  (wal_level=logical)
//	WALSHIP_TEST_PG_FOLLOWER    postgres://postgres@127.0.0.1:55433/postgres?sslmode=disable
//	WALSHIP_TEST_MYSQL_SOURCE   root@tcp(127.0.0.1:53306)/  (go-sql-driver/mysql DSN; MariaDB, row binlog, GTID)
//	WALSHIP_TEST_MYSQL_FOLLOWER root@tcp(127.0.0.1:53307)/
//	WALSHIP_TEST_KAFKA          127.0.0.1:59092             (comma-separated brokers; Kafka 3.9, KRaft)
//
// deploy/local/env.sh is the single place that defines these values. `make
// env-up` starts the servers; `make test` starts them, runs every test with
// WALSHIP_INTEGRATION=1 and the variables set, and stops them.
//
// Each helper checks that its server answers (a TCP dial with a 3 s timeout).
// When the variable is unset or the server cannot be reached, the test fails,
// naming the variable and the address, if CI=true or WALSHIP_INTEGRATION=1, and
// is skipped otherwise: in CI a test that cannot reach its server never passes
// by skipping. Messages name host:port only, never a whole DSN, so no password
// appears in them.
//
// The servers are shared by every test, by packages that `go test` runs in
// parallel and by other engineers: give databases, slots, publications, topics
// and consumer groups unique names, and drop them when the test ends.
//
// This package uses the standard library only.
package testenv
