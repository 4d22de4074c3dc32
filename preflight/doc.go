// Package preflight checks, before walship runs, that every server a config
// names can be used: `walship check -c FILE` calls [Check] after
// config.Load.
//
// Contract:
//   - In: a loaded, valid *config.Config and a context. Out: a [Report]
//     with one [Result] per target, in config order: each source, each
//     sink, then Kafka (when brokers are configured). Check never returns an
//     error: everything it finds is a [Problem] in the report, and
//     [Report.OK] is true only when no target has one.
//   - Every problem is reported, not just the first: all targets are
//     checked, and a target whose server answers is checked for every
//     setting and privilege even after one fails. A Problem's Msg names the
//     cause and the fix ("wal_level is replica, need logical: set ...").
//     Its Code classifies it (Unreachable, AuthFailed, NotFound, Setting,
//     Privilege, Version, Config, Other). Errors are classified by type and
//     code (SQLSTATE, MySQL error number, syscall errno), never by their
//     text.
//   - Targets are checked concurrently. Connecting to one database server
//     is bounded by [ConnectTimeout] (5s) and all the work on it by three
//     times that; dialing a Kafka broker by kafka.dial_timeout and each
//     request to it by ConnectTimeout; a SQLite check by 30s; everything by
//     ctx. A slow or silent server delays only its own result. Check
//     returns at most about half a second after ctx's deadline or a
//     target's own, even if a driver ignores the context; a target that
//     has not answered by then is reported Unreachable.
//   - No secret appears in a Report: messages are built from classified
//     causes and config.RedactDSN, never from a DSN, and as a last guard
//     every password the config holds is replaced by "[redacted]" in every
//     message. Addr is host:port (or a path), never a DSN.
//   - Check only reads: it creates no slot, table, topic or file (a SQLite
//     check creates and removes one empty temporary file to prove the
//     directory is writable), and closes every connection it opened before
//     returning, unless a driver ignores its deadline.
//
// What is checked, per target:
//   - PostgreSQL source: reachable, login, database exists, server version
//     >= 10 (pgoutput), wal_level=logical, max_replication_slots and
//     max_wal_senders > 0, the role has REPLICATION or is superuser, the
//     slot is usable (an existing one is logical pgoutput on this database;
//     otherwise a free slot is left), the captured tables (a partitioned
//     table is captured by its root: PostgreSQL 13 or later, and an
//     existing publication must have publish_via_partition_root on, and a
//     partitioned table with REPLICA IDENTITY FULL needs it on every
//     partition; an existing publication must publish every captured
//     table), and
//     finally a replication connection with IDENTIFY_SYSTEM when all else
//     passed.
//   - MySQL/MariaDB source: reachable, login, the flavor matches the
//     server, server_id differs from the server's, log_bin on,
//     binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL,
//     gtid_mode=ON (MySQL; MariaDB always has GTIDs and gtid_binlog_pos is
//     reported), and the privileges REPLICATION SLAVE, REPLICATION CLIENT
//     (or BINLOG MONITOR) and SELECT on the captured tables, plus RELOAD and
//     LOCK TABLES when snapshot is initial, read from SHOW GRANTS (ALL
//     PRIVILEGES counts; privileges held through roles do not). With several
//     addresses (a replication group), those checks run on the leader the
//     source would stream from (the first primary), and each other address
//     is checked as one that may take over: it answers, and log_bin,
//     log_slave_updates, ROW and FULL images would carry on the leader's
//     history in its binlog.
//   - PostgreSQL sink: reachable, login, database exists, not a standby,
//     CREATE on the database and on schema public.
//   - MySQL/MariaDB sink: the DSN names a database, reachable, login, the
//     database exists, and CREATE, ALTER, DROP, SELECT, INSERT, UPDATE and
//     DELETE on it.
//   - SQLite sink: the directory exists and is writable; an existing file
//     is writable and passes PRAGMA quick_check (opened query-only).
//   - Kafka: each configured broker answers a metadata request; the
//     brokers the cluster advertises are reachable from this host. The
//     broker count and controller are reported.
package preflight
