// Package sourcetest is the test harness the change sources share
// (sources/mysql, sources/postgres). Only tests import it.
//
// An engine's harness keeps what is its own (the test database, the
// source's Config, how it knows it has caught up with the server, how it
// reads the live tables) and takes the rest from here:
//
//   - [Harness], which an engine's harness embeds: the test's name (for
//     its database, topics, slot), the Kafka broker, a state directory
//     and its checkpoint store, the source's run and the log read back.
//   - [Runner] runs a source until stopped, restarting it after an error
//     like the supervisor would.
//   - [Publisher] makes the source's Logs: Kafka publishers to a topic
//     prefix. [Read] reads everything under the prefix back, and [Logger]
//     is the source's logger (debug on stderr with -v, else nowhere).
//   - [Until] polls for a condition with a deadline.
//   - [State], [Fold], [RowKey] and [Converged] fold the log into rows like
//     a sink, and compare them with the source's tables.
//   - [RaceSnapshot] and [SnapshotKeys] race writers against a snapshot
//     and check that no key was snapshotted twice.
//   - [Bench] and [RunBench] are the source benchmarks' frame: the load's
//     size ([BenchLoad]) and the report of the runs, and the timed run of
//     walship's source.
//   - [Source], [SnapshotJoinsStream] and [RestartResumes] are scenarios
//     both engines run through their harnesses.
//
// Servers are reached through internal/testenv only, so a test skips
// without WALSHIP_INTEGRATION and fails in CI when a server is missing.
//
// The package must not import a source package: their in-package tests
// import it.
package sourcetest
