// Package origins names the writes of walship's sinks in their followers,
// so that a source capturing the same database can leave them out
// (multi-leader loop prevention, config ignore_writes_of).
//
// Contract:
//   - PostgreSQL: every session of a sink whose writes a source ignores
//     runs under a replication origin (pg_replication_origin_session_setup)
//     named PGName(sink, slot): one per session, since PostgreSQL lets an
//     origin be active in one session at a time. pgoutput sends each
//     transaction's origin (its Origin message), and PGMatcher tells a
//     source which names are those of the sinks it ignores.
//   - MySQL and MariaDB: the sink's sessions write with server_id
//     ServerID(sink, configured) (SET SESSION server_id), carried by every
//     binlog event; the source leaves out the events of those ids.
//   - Names and ids depend only on the sink's name (and the configured
//     id), so a source and a sink built from one configuration agree.
package origins
