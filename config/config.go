package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/walship/walship/filter"
	"github.com/walship/walship/offsets"
)

// Config is the whole walship configuration file.
type Config struct {
	// StateDir holds the embedded checkpoint store and spill files.
	// Default: ./walship-state (relative to the working directory).
	StateDir string `yaml:"state_dir"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM/SIGINT.
	// Default: 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MemoryLimit is the Go runtime's soft memory limit for run and replay
	// (runtime/debug.SetMemoryLimit): the garbage collector works harder as
	// the process nears it, so the resident size stays near it instead of
	// growing to twice the live heap. A size with a unit (B, KiB, MiB, GiB),
	// at least 64MiB, or "off". The GOMEMLIMIT environment variable, when
	// set, takes precedence. It bounds what the runtime holds, not what the
	// data needs: the live heap is bounded by spill_bytes, the sinks' queues
	// and the reader's prefetch; SQLite's own memory is outside it.
	// Default: 448MiB (an 8-table initial load peaked at 543–576 MiB
	// without it, 417 MiB with it; README, Performance).
	MemoryLimit string `yaml:"memory_limit"`
	// HTTP configures the operations server (/metrics, /healthz, status, dashboard).
	HTTP HTTP `yaml:"http"`
	// Log configures the daemon's structured log.
	Log Log `yaml:"log"`
	// Kafka configures the log the sources write and the sinks read.
	Kafka Kafka `yaml:"kafka"`
	// Sources are the databases whose changes are captured. Names are unique.
	Sources []Source `yaml:"sources"`
	// Sinks are the followers the log is applied to. Names are unique.
	Sinks []Sink `yaml:"sinks"`
	// Cluster, when set, makes the daemon a member of a cluster: every
	// daemon started with the same file (and cluster name) shares its
	// sources and sinks, each run by exactly one live member (package
	// cluster). Absent: the daemon runs every component itself.
	Cluster *Cluster `yaml:"cluster"`

	// File is the path the config was loaded from (not a YAML key).
	File string `yaml:"-"`
	// lines are the keys' lines in File (At).
	lines map[string]int
}

// Cluster makes the daemon one member of several that share its
// components.
type Cluster struct {
	// Name of the cluster: members with the same name and Kafka share the
	// components; clusters with other names do not see each other.
	// Letters, digits, '.', '_' and '-'. Required.
	Name string `yaml:"name"`
	// Member names this daemon in the cluster's status. Default: the host
	// name and the process id.
	Member string `yaml:"member"`
	// Advertise is the address other members and operators reach this
	// member's HTTP server at, shown in the cluster's status. Default:
	// http.listen.
	Advertise string `yaml:"advertise"`
	// SessionTimeout is how long Kafka waits for a member's heartbeat
	// before it gives the member's components to others: with
	// HeartbeatInterval and RebalanceTimeout it bounds the takeover time.
	// Default: 10s; from 6s (Kafka's group.min.session.timeout.ms) to 5m.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// HeartbeatInterval is how often a member tells Kafka it is alive.
	// Default: 1s; less than a third of session_timeout.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// RebalanceTimeout is how long members have to stop their components
	// and join again when the membership changes. Default: 10s.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
}

// Cluster defaults.
const (
	DefaultClusterSessionTimeout    = 10 * time.Second
	DefaultClusterHeartbeatInterval = time.Second
	DefaultClusterRebalanceTimeout  = 10 * time.Second
)

// HTTP is the operations server.
type HTTP struct {
	// Listen is the host:port to serve on. Default: 127.0.0.1:8080.
	// The value "off" disables the server.
	Listen string `yaml:"listen"`
	// Token, when set, enables the endpoints that change state (pausing
	// and resuming a sink); they need "Authorization: Bearer <token>".
	// Unset, they answer 403 and the API is read-only. Use ${ENV} or
	// TokenFile.
	Token Secret `yaml:"token"`
	// TokenFile is read at load time; its trimmed content is the token.
	TokenFile string `yaml:"token_file"`
	// Pprof serves Go's runtime profiles under /debug/pprof/ (CPU, heap,
	// goroutines) for performance work. Default: false. Profiles hold no
	// row values, but taking one costs CPU, so keep it off unless needed.
	Pprof bool `yaml:"pprof"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default: info.
	Level string `yaml:"level"`
	// Format is text or json. Default: text.
	Format string `yaml:"format"`
}

// Kafka configures the brokers and topics.
type Kafka struct {
	// Brokers are the bootstrap addresses (host:port). Required when any
	// source or sink is configured.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix starts every topic name: <prefix>.<schema>.<table> and
	// <prefix>.transaction. Default: walship.
	TopicPrefix string `yaml:"topic_prefix"`
	// Partitions is the partition count of created data topics. Default: 8.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of created topics. Default: 1.
	ReplicationFactor int `yaml:"replication_factor"`
	// Envelope is the value format: "json" (Debezium envelope, schemas off),
	// "json-schema" (Kafka Connect JSON with schema and payload), or "rows"
	// (walship's row batches: a transaction's changes of a table in one
	// record of a compact binary encoding, several times cheaper to write
	// and read, which only walship's sinks and replay read; see
	// envelope.EncodeRows). Sinks read every format, so it can change
	// between runs; Debezium consumers need json or json-schema.
	// Default: json.
	Envelope string `yaml:"envelope"`
	// DecimalHandling is how decimal and numeric values travel, as
	// Debezium's decimal.handling.mode: "precise" (Kafka Connect's Decimal
	// logical type, or Debezium's VariableScaleDecimal for PostgreSQL
	// numeric without a declared scale), "string" (the exact text) or
	// "double" (a JSON number, which may round). walship's own sinks get
	// every value exactly in every mode. Default: precise (Debezium's).
	DecimalHandling string `yaml:"decimal_handling"`
	// DialTimeout bounds connecting to a broker. Default: 10s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxMessageBytes is the largest record walship writes: one change
	// (its before and after images) must fit, or its source stops naming
	// the table, the position and the size. Topics walship creates get it
	// as max.message.bytes; the broker's replica.fetch.max.bytes and
	// message.max.bytes must allow it for topics created elsewhere. From
	// 1 MiB to 1 GiB. Default: 32 MiB (33554432).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// TLS, when set, encrypts every connection to the brokers and verifies
	// their certificates; there is no plaintext fallback.
	TLS *TLS `yaml:"tls"`
	// SASL, when set, authenticates to the brokers.
	SASL *KafkaSASL `yaml:"sasl"`
}

// TLS configures a client's TLS: to the Kafka brokers, or to a
// MySQL/MariaDB source. When set, connections are encrypted and the
// server's certificate verified; there is no plaintext fallback.
type TLS struct {
	// CAFile is a PEM file of the certificates that sign the servers'
	// certificates. Default: the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and key (PEM), for
	// brokers that require one (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name verified in the servers'
	// certificates. Default: the host of each address.
	ServerName string `yaml:"server_name"`
}

// KafkaSASL configures SASL authentication to the brokers.
type KafkaSASL struct {
	// Mechanism is SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (PLAIN only with
	// tls). Required.
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user. Required.
	Username string `yaml:"username"`
	// Password of Username. Use ${ENV} or PasswordFile.
	Password Secret `yaml:"password"`
	// PasswordFile is read at load time; its trimmed content is the password.
	PasswordFile string `yaml:"password_file"`
}

// Source is one captured database. Exactly one engine block is set.
type Source struct {
	// Name identifies the source in topics, positions and metrics. Required.
	Name string `yaml:"name"`
	// Postgres configures a PostgreSQL logical decoding source.
	Postgres *PostgresSource `yaml:"postgres"`
	// MySQL configures a MySQL or MariaDB binlog source.
	MySQL *MySQLSource `yaml:"mysql"`
	// External names the engine ("postgres", "mysql" or "mariadb") of a source that
	// another walship daemon captures: this daemon runs no capture for it,
	// and its sinks read its log at TopicPrefix. No engine block is set.
	External string `yaml:"external"`
	// TopicPrefix starts this source's topics: <prefix>.<schema>.<table>
	// and <prefix>.transaction. Default: <kafka.topic_prefix>.<name>.
	// Prefixes of two sources must differ.
	TopicPrefix string `yaml:"topic_prefix"`
	// Columns rewrites columns of tables ("schema.table") before their
	// changes enter the log, so the values never reach Kafka (package
	// filter). exclude removes a column everywhere (not a primary-key
	// column); hash replaces a value by its HMAC-SHA-256 under HashKey
	// (hex; the follower column is varchar(64); a key column may be
	// hashed); mask replaces it by "****"; truncate cuts text to N
	// characters. Snapshots and incremental snapshots pass the same
	// rules. Example:
	//
	//	columns:
	//	  public.users: { exclude: [ssn], hash: [email], mask: [phone], truncate: { bio: 100 } }
	Columns map[string]ColumnRules `yaml:"columns"`
	// Where keeps only the rows of a table that match an expression
	// (expr-lang, https://expr-lang.org) over the row's columns by name;
	// an update that moves a row in becomes an insert, one that moves it
	// out a delete, so followers hold exactly the rows that match. A
	// predicate on a non-key column needs full before images (PostgreSQL
	// REPLICA IDENTITY FULL). Example:
	//
	//	where:
	//	  public.orders: "region == 'eu' && total > 0"
	Where map[string]string `yaml:"where"`
	// HashKey is the key of the columns: hash rule. Use ${ENV} or
	// HashKeyFile. Required when a column is hashed.
	HashKey Secret `yaml:"hash_key"`
	// HashKeyFile is read at load time; its trimmed content is the key.
	HashKeyFile string `yaml:"hash_key_file"`
	// IgnoreWritesOf names sinks of this file that write into this
	// source's database (multi-leader: each database a source and a
	// follower of the other): the transactions they applied are not
	// captured again (package origins). A PostgreSQL source needs the
	// sinks to be PostgreSQL followers, a MySQL or MariaDB source MySQL or
	// MariaDB ones. A cascade (A → B → C) leaves B's source without it.
	IgnoreWritesOf []string `yaml:"ignore_writes_of"`
}

// Ignored reports whether a source ignores the writes of sink
// (ignore_writes_of): the sink then names its writes (package origins).
func (c *Config) Ignored(sink string) bool {
	for _, s := range c.Sources {
		if slices.Contains(s.IgnoreWritesOf, sink) {
			return true
		}
	}
	return false
}

// FilterRules are the columns: and where: rules as package filter takes
// them.
func FilterRules(cols map[string]ColumnRules, where map[string]string) filter.Rules {
	if len(cols) == 0 && len(where) == 0 {
		return nil
	}
	out := filter.Rules{}
	for t, c := range cols {
		out[t] = filter.Table{Exclude: c.Exclude, Hash: c.Hash, Mask: c.Mask, Truncate: c.Truncate}
	}
	for t, w := range where {
		r := out[t]
		r.Where = w
		out[t] = r
	}
	return out
}

// Filter is the filter of the sink's columns: and where: rules; nil
// without any.
func (s Sink) Filter() (*filter.Filter, error) {
	rules := FilterRules(s.Columns, s.Where)
	if rules == nil {
		return nil, nil
	}
	f, err := filter.New(rules, nil)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", s.Name, err)
	}
	return f, nil
}

// ColumnRules are the column rules of one table (Source.Columns; a sink
// takes exclude only).
type ColumnRules struct {
	Exclude  []string       `yaml:"exclude"`
	Hash     []string       `yaml:"hash"`
	Mask     []string       `yaml:"mask"`
	Truncate map[string]int `yaml:"truncate"`
}

// Engine names the configured engine block of a source.
func (s Source) Engine() string {
	switch {
	case s.Postgres != nil:
		return "postgres"
	case s.MySQL != nil:
		return "mysql"
	}
	return s.External
}

// PositionEngine is the engine of the source's positions: the flavor
// decides between MySQL and MariaDB, and an external source names its
// engine.
func (s Source) PositionEngine() offsets.Engine {
	switch {
	case s.Postgres != nil || s.External == "postgres":
		return offsets.EnginePostgres
	case s.MySQL != nil && s.MySQL.Flavor == "mariadb", s.External == "mariadb":
		return offsets.EngineMariaDB
	}
	return offsets.EngineMySQL
}

// PostgresSource reads the WAL with pgoutput.
type PostgresSource struct {
	// DSN is a libpq URL or key=value string. Required. A password may be
	// given here, but Password or PasswordFile keeps it out of the DSN.
	DSN Secret `yaml:"dsn"`
	// Password overrides the DSN's password. Use ${ENV} or PasswordFile.
	Password Secret `yaml:"password"`
	// PasswordFile is read at load time; its trimmed content is the password.
	PasswordFile string `yaml:"password_file"`
	// Slot is the logical replication slot. Default: walship_<name>.
	Slot string `yaml:"slot"`
	// Publication is the pgoutput publication. Default: walship_<name>.
	Publication string `yaml:"publication"`
	// SignalTable is a captured table ("schema.table") whose inserted
	// rows are requests to the source, in WAL order, like Debezium's
	// signal table: columns id (text), type (text) and data (JSON text).
	// Types: execute-snapshot with data {"data-collections":
	// ["schema.table", ...], "additional-conditions": [{"data-collection":
	// "schema.table", "filter": "condition"}]} starts an incremental
	// snapshot; pause-snapshot, resume-snapshot and stop-snapshot act on
	// the running ones. Default: none.
	SignalTable string `yaml:"signal_table"`
	// Tables are schema.table patterns with * wildcards. Default: [public.*].
	Tables []string `yaml:"tables"`
	// Snapshot is initial (snapshot then stream) or never. Default: initial.
	Snapshot string `yaml:"snapshot"`
	// SnapshotWorkers is the number of connections that read the initial
	// snapshot at once, all inside the one consistent snapshot (the slot's exported snapshot, SET TRANSACTION SNAPSHOT on each;
	// large tables split into ctid page ranges):
	// several tables, and key ranges of large tables, are read in
	// parallel, and their rows are published in the order one connection
	// would have (table by table, parents first). 1 reads the tables one
	// after another on one connection. From 1 to 64. Default: 2.
	SnapshotWorkers int `yaml:"snapshot_workers"`
	// SnapshotChunkRows is the rows of one initial-snapshot chunk (one
	// transaction of the log, one follower transaction); a part of a
	// large table is 5 chunks. Larger chunks cost fewer round trips and
	// more memory on the source and the sinks. From 1 to 1000000.
	// Default: 10000.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// HeartbeatInterval is how often a heartbeat keeps the slot advancing
	// when only uncaptured tables change. Default: 10s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// Durability is async (acknowledge the slot as Kafka acks) or sync:
	// the replication connection's application_name is the slot name, so
	// listing it in the server's synchronous_standby_names makes every
	// COMMIT wait until its change is durable in Kafka. Default: async.
	Durability string `yaml:"durability"`
	// DecodingWorkMem is logical_decoding_work_mem for walship's
	// replication connection, in PostgreSQL's units (64kB to 2GB, e.g.
	// "8MB"). A transaction that outgrows it is streamed by the server
	// while it runs, so after its COMMIT only the rest is left to decode
	// and send: the smaller, the sooner a big transaction's first event
	// reaches Kafka, at the cost of streaming (and spilling) mid-size
	// transactions that may still abort. Default: the server's setting.
	DecodingWorkMem string `yaml:"decoding_work_mem"`
	// AcceptSlotGapAt accepts, knowingly, a slot found confirmed at this
	// LSN, past walship's checkpoint: someone advanced it while walship was
	// stopped, and the changes between are lost to the followers. walship
	// refuses such a slot otherwise, naming both positions. It applies only
	// to a slot at exactly this LSN, so leaving it set accepts no later
	// gap. Default: none.
	AcceptSlotGapAt string `yaml:"accept_slot_gap_at"`
	// AcceptSystemID accepts, knowingly, a server whose system identifier
	// (SELECT system_identifier FROM pg_control_system()) is this one,
	// where walship followed another cluster: the same database moved by
	// pg_upgrade or restored from a backup that holds every change walship
	// streamed. walship refuses another cluster otherwise, naming both.
	// Default: none.
	AcceptSystemID string `yaml:"accept_system_id"`
	// FailoverSlot makes the replication slot a failover slot (PostgreSQL
	// 17+), which standbys running with sync_replication_slots keep, so
	// that the source goes on from a promoted standby (list both hosts in
	// the DSN: host=a,b target_session_attrs=primary). auto creates it
	// where the server has failover slots (and turns failover on for an
	// existing slot); on refuses an older server; off never asks for it.
	// Default: auto.
	FailoverSlot string `yaml:"failover_slot"`
}

// MySQLSource reads the binlog of MySQL or MariaDB.
type MySQLSource struct {
	// Addr is host:port. Required. Several, comma-separated
	// ("primary:3306,replica:3306"), are the servers a leader may be on:
	// the source streams from the first that is a primary (not read_only,
	// replicating from no one), and after a failover goes on with the
	// promoted one once it holds every GTID walship shipped.
	Addr string `yaml:"addr"`
	// User to connect as. Required.
	User string `yaml:"user"`
	// Password of User. Use ${ENV} or PasswordFile.
	Password Secret `yaml:"password"`
	// PasswordFile is read at load time; its trimmed content is the password.
	PasswordFile string `yaml:"password_file"`
	// ServerID is the replica server id walship presents. Required, non-zero,
	// unique among the server's replicas.
	ServerID uint32 `yaml:"server_id"`
	// Flavor is mysql or mariadb. Default: mysql.
	Flavor string `yaml:"flavor"`
	// Tables are schema.table patterns with * wildcards. Required.
	Tables []string `yaml:"tables"`
	// Snapshot is initial or never. Default: initial.
	Snapshot string `yaml:"snapshot"`
	// SnapshotWorkers is the number of connections that read the initial
	// snapshot at once, all inside the one consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT
	// on each, all under one brief FLUSH TABLES WITH READ LOCK; large
	// tables with an integer primary key split into key ranges):
	// several tables, and key ranges of large tables, are read in
	// parallel, and their rows are published in the order one connection
	// would have (table by table, parents first). 1 reads the tables one
	// after another on one connection. From 1 to 64. Default: 2.
	SnapshotWorkers int `yaml:"snapshot_workers"`
	// SnapshotChunkRows is the rows of one initial-snapshot chunk (one
	// transaction of the log, one follower transaction); a part of a
	// large table is 5 chunks. Larger chunks cost fewer round trips and
	// more memory on the source and the sinks. From 1 to 1000000.
	// Default: 10000.
	SnapshotChunkRows int `yaml:"snapshot_chunk_rows"`
	// Durability is async (save the position as Kafka acks) or semisync:
	// walship registers as a semi-synchronous replica and acknowledges each
	// transaction to the server only once Kafka holds it, so with
	// rpl_semi_sync_master_enabled (MariaDB; rpl_semi_sync_source_enabled in
	// MySQL) a COMMIT returns only when its change is durable in Kafka.
	// Default: async.
	Durability string `yaml:"durability"`
	// StreamFrom is primary or replica: the server among addr's addresses
	// that the source snapshots and streams from. primary: the first
	// writable server replicating from no one. replica: the first replica
	// (read_only or replicating) that answers, with log_slave_updates so
	// that its binlog holds what it replicated; when none answers (its
	// promotion made it the primary), the first primary. Streaming from
	// the replica that a failover would promote means walship never ships
	// a transaction that the new leader lacks: with asynchronous
	// replication the primary's last transactions can be lost in a
	// failover, and a follower that applied them would be ahead of its new
	// leader. With the server's semi-synchronous replication
	// (rpl_semi_sync_master_enabled on the primary,
	// rpl_semi_sync_slave_enabled on that replica) a client's COMMIT
	// also returns only once the replica holds it. durability: semisync
	// alone does not give this: walship acknowledges as its own
	// semi-synchronous replica, and the server sends binlog events to every
	// replica before any acknowledgement. Default: primary.
	StreamFrom string `yaml:"stream_from"`
	// SignalTable is a table ("database.table", created by walship when
	// missing) that carries the watermarks of incremental snapshots in the
	// binlog, and whose inserted rows are requests in binlog order, like
	// Debezium's signal table (columns id, type, data; see the PostgreSQL
	// source's signal_table). Incremental snapshots of this source need
	// it, and INSERT and UPDATE on it (CREATE to make it). Default: none.
	SignalTable string `yaml:"signal_table"`
	// TLS, when set, encrypts the binlog and SQL connections and verifies
	// the server's certificate; nothing connects in plaintext.
	TLS *TLS `yaml:"tls"`
	// RawCharsets lists character sets (MariaDB's names: greek, koi8r,
	// sjis, ..., or * for all of RawCharsetNames) whose text columns are
	// captured as their bytes, never decoded: followers get binary columns
	// (bytea, VARBINARY/BLOB, BLOB) holding exactly the source's bytes. A
	// value holding bytes its charset does not define then passes; without
	// it, such a value stops the source. Default: none.
	RawCharsets []string `yaml:"raw_charsets"`
}

// RawCharsetNames are the character sets walship decodes itself, and so
// the ones raw_charsets can name: the single-byte sets other than ascii,
// and the multi-byte sets other than utf8mb3 and utf8mb4.
var RawCharsetNames = []string{
	"latin1", "latin2", "latin5", "latin7", "cp1250", "cp1251", "cp1256", "cp1257", "cp850", "cp852", "cp866",
	"greek", "hebrew", "koi8r", "koi8u", "macroman", "tis620",
	"ucs2", "utf16", "utf16le", "utf32", "sjis", "cp932", "ujis", "eucjpms", "euckr", "gb2312", "gbk", "gb18030", "big5",
}

// RawCharset reports whether text in charset is captured as bytes.
func (my *MySQLSource) RawCharset(charset string) bool {
	for _, c := range my.RawCharsets {
		if c == "*" || strings.EqualFold(c, charset) {
			return true
		}
	}
	return false
}

// Sink is one follower database. Exactly one engine block is set.
type Sink struct {
	// Name identifies the sink in positions, metrics and the status API. Required.
	Name string `yaml:"name"`
	// From lists the sources whose log this sink applies. Required.
	From []string `yaml:"from"`
	// Workers is the number of parallel appliers. Default: 4.
	Workers int `yaml:"workers"`
	// Postgres configures a PostgreSQL follower.
	Postgres *PostgresSink `yaml:"postgres"`
	// MySQL configures a MySQL or MariaDB follower.
	MySQL *MySQLSink `yaml:"mysql"`
	// SQLite configures a SQLite follower.
	SQLite *SQLiteSink `yaml:"sqlite"`
	// Columns excludes columns of tables ("schema.table", as the source
	// names them) from this follower: exclude only (the log already holds
	// the values). Example: columns: { public.users: { exclude: [notes] } }
	Columns map[string]ColumnRules `yaml:"columns"`
	// Where keeps only the rows of a table that match an expression, for
	// this follower (as Source.Where, from what the log holds: a predicate
	// on a non-key column needs the source's full before images). Example:
	//
	//	where:
	//	  public.orders: "region == 'eu'"
	Where map[string]string `yaml:"where"`
	// Tables maps source tables to follower tables.
	Tables TableMapping `yaml:"tables"`
	// DropColumns drops follower columns that the source dropped; by
	// default they stay, made nullable. Default: false.
	DropColumns bool `yaml:"drop_columns"`
	// Indexes is copy or primary_key_only. copy: a follower table walship
	// creates gets the source table's secondary indexes, unique ones
	// included, translated to the follower's engine (an index it cannot
	// express is logged and left out), built once the table's initial load
	// is applied, and kept in step as the source creates and drops
	// indexes. primary_key_only: only the primary key (the fastest load;
	// a follower nobody reads). tables.indexes overrides it per table.
	// Tables walship did not create keep their own indexes either way.
	// Default: copy.
	Indexes string `yaml:"indexes"`
	// FollowerForeignKeys adds the source's foreign keys between the
	// tables this sink applies to the follower tables walship creates
	// (with indexes: copy), once their rows are loaded: DEFERRABLE
	// INITIALLY DEFERRED, checked at each follower commit. Apply order
	// already keeps them valid; this makes the follower enforce them for
	// its own writers. PostgreSQL followers only: MySQL checks foreign keys
	// row by row, and SQLite cannot add one to an existing table.
	// Default: false.
	FollowerForeignKeys bool `yaml:"follower_foreign_keys"`
	// DeadLetterTopic, if set, is a Kafka topic that receives a transaction
	// the follower rejects (a constraint, a type), which is then skipped
	// and recorded as applied. Each change becomes one record, as its source
	// topic holds it, with walship.dlq.* headers naming the sink, the error
	// and the original topic. Default: unset, and a rejected transaction
	// stops the sink.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// Conflicts is what the sink does when the follower's row is not the
	// one a change expects: a follower that also takes writes of its own
	// (multi-leader). Default: policy error, the sink stops.
	Conflicts *Conflicts `yaml:"conflicts"`
	// CommitOrder is source (follower transactions commit in the order of
	// each source's log, so the follower only ever shows states its source
	// had) or dependencies (each commits once the transactions it depends
	// on have: faster with many workers, but a reader can see a later
	// transaction without an earlier one it did not write-conflict with).
	// Default: source.
	CommitOrder string `yaml:"commit_order"`
	// Fold writes each follower transaction's changes as their net effect
	// per row (repeated updates of a row as one, an insert and its updates
	// as one insert, many rows in one statement): the follower's state is
	// the same, in far fewer statements. false applies every change as its
	// own statement, in log order, for followers whose triggers must see
	// every change. Default: true.
	Fold *bool `yaml:"fold"`
}

// TableMapping names follower tables. By default a follower table keeps
// the source table's name (and schema, on a PostgreSQL follower).
type TableMapping struct {
	// Prefix is prepended to every follower table name. Default: none.
	Prefix string `yaml:"prefix"`
	// Rename maps "schema.table" of a source to a follower table name.
	Rename map[string]string `yaml:"rename"`
	// Indexes overrides the sink's indexes per source table:
	// { shop.events: primary_key_only }.
	Indexes map[string]string `yaml:"indexes"`
}

// Engine names the configured engine block of a sink.
func (s Sink) Engine() string {
	switch {
	case s.Postgres != nil:
		return "postgres"
	case s.MySQL != nil:
		return "mysql"
	case s.SQLite != nil:
		return "sqlite"
	}
	return ""
}

// PostgresSink is a PostgreSQL follower.
type PostgresSink struct {
	// DSN is a libpq URL or key=value string. Required.
	DSN Secret `yaml:"dsn"`
	// Password overrides the DSN's password.
	Password Secret `yaml:"password"`
	// PasswordFile is read at load time.
	PasswordFile string `yaml:"password_file"`
}

// MySQLSink is a MySQL or MariaDB follower.
type MySQLSink struct {
	// DSN is a go-sql-driver DSN: user[:password]@tcp(host:port)/db. Required.
	DSN Secret `yaml:"dsn"`
	// Password overrides the DSN's password.
	Password Secret `yaml:"password"`
	// PasswordFile is read at load time.
	PasswordFile string `yaml:"password_file"`
	// OriginServerID is the server_id this sink writes with when a source
	// ignores its writes (ignore_writes_of). Default: one derived from the
	// sink's name, from 3000000000 up. It must differ from every server's
	// id in the follower's replication topology.
	OriginServerID uint32 `yaml:"origin_server_id"`
}

// Conflicts is a sink's conflict handling (sinks/sqlsink conflict.go). A
// conflict is an insert whose key the follower has, an update or delete
// whose row it lacks, or one whose row is not the change's full before
// image.
type Conflicts struct {
	// Policy is error (stop, the default), keep_local (the follower's row
	// stays), keep_remote (the change is applied over it) or record
	// (keep_local, and both rows are written to the follower's conflicts
	// table, walship.conflicts or _walship_conflicts).
	Policy string `yaml:"policy"`
	// Tables overrides the policy per source table ("schema.table").
	Tables map[string]string `yaml:"tables"`
	// Counters are integer columns per source table whose updates apply
	// as a delta (balance = balance + (new - old)), whoever wins a
	// conflict: increments on two leaders both count. They need the
	// source's full before images.
	Counters map[string][]string `yaml:"counters"`
}

// SQLiteSink is a SQLite follower file.
type SQLiteSink struct {
	// Path of the database file. Required.
	Path string `yaml:"path"`
}

// Defaults used where a key is absent.
const (
	DefaultStateDir          = "./walship-state"
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultMemoryLimit       = "448MiB"
	DefaultListen            = "127.0.0.1:8080"
	DefaultTopicPrefix       = "walship"
	DefaultPartitions        = 8
	DefaultReplicationFactor = 1
	DefaultWorkers           = 4
	// DefaultSnapshotWorkers is snapshot_workers when absent (measured:
	// README, Performance).
	DefaultSnapshotWorkers = 2
	DefaultHeartbeat       = 10 * time.Second
	DefaultDialTimeout     = 10 * time.Second
	DefaultMaxMessageBytes = 32 << 20
)

// SinkNamed is the sink called name, nil when the file has none; the
// error for none lists SinkNames.
func (c *Config) SinkNamed(name string) *Sink {
	for i := range c.Sinks {
		if c.Sinks[i].Name == name {
			return &c.Sinks[i]
		}
	}
	return nil
}

// SinkNames are the sinks' names, in file order.
func (c *Config) SinkNames() []string {
	names := make([]string, 0, len(c.Sinks))
	for _, s := range c.Sinks {
		names = append(names, s.Name)
	}
	return names
}

// applyDefaults fills every absent key with its documented default.
func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MemoryLimit == "" {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Kafka.TopicPrefix == "" {
		c.Kafka.TopicPrefix = DefaultTopicPrefix
	}
	if c.Kafka.Partitions == 0 {
		c.Kafka.Partitions = DefaultPartitions
	}
	if c.Kafka.ReplicationFactor == 0 {
		c.Kafka.ReplicationFactor = DefaultReplicationFactor
	}
	if c.Kafka.Envelope == "" {
		c.Kafka.Envelope = "json"
	}
	if c.Kafka.DecimalHandling == "" {
		c.Kafka.DecimalHandling = "precise"
	}
	if c.Kafka.DialTimeout == 0 {
		c.Kafka.DialTimeout = DefaultDialTimeout
	}
	if c.Kafka.MaxMessageBytes == 0 {
		c.Kafka.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cl := c.Cluster; cl != nil {
		if cl.SessionTimeout == 0 {
			cl.SessionTimeout = DefaultClusterSessionTimeout
		}
		if cl.HeartbeatInterval == 0 {
			cl.HeartbeatInterval = DefaultClusterHeartbeatInterval
		}
		if cl.RebalanceTimeout == 0 {
			cl.RebalanceTimeout = DefaultClusterRebalanceTimeout
		}
		if cl.Advertise == "" && c.HTTP.Listen != "off" {
			cl.Advertise = c.HTTP.Listen
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if pg := s.Postgres; pg != nil {
			if pg.Slot == "" {
				pg.Slot = "walship_" + identifier(s.Name)
			}
			if pg.Publication == "" {
				pg.Publication = "walship_" + identifier(s.Name)
			}
			if len(pg.Tables) == 0 {
				pg.Tables = []string{"public.*"}
			}
			if pg.Snapshot == "" {
				pg.Snapshot = "initial"
			}
			if pg.FailoverSlot == "" {
				pg.FailoverSlot = "auto"
			}
			if pg.SnapshotWorkers == 0 {
				pg.SnapshotWorkers = DefaultSnapshotWorkers
			}
			if pg.HeartbeatInterval == 0 {
				pg.HeartbeatInterval = DefaultHeartbeat
			}
			if pg.Durability == "" {
				pg.Durability = "async"
			}
		}
		if my := s.MySQL; my != nil {
			if my.Flavor == "" {
				my.Flavor = "mysql"
			}
			if my.Snapshot == "" {
				my.Snapshot = "initial"
			}
			if my.SnapshotWorkers == 0 {
				my.SnapshotWorkers = DefaultSnapshotWorkers
			}
			if my.StreamFrom == "" {
				my.StreamFrom = "primary"
			}
			if my.Durability == "" {
				my.Durability = "async"
			}
		}
	}
	for i := range c.Sinks {
		if c.Sinks[i].Workers == 0 {
			c.Sinks[i].Workers = DefaultWorkers
		}
		if c.Sinks[i].CommitOrder == "" {
			c.Sinks[i].CommitOrder = "source"
		}
		if c.Sinks[i].Indexes == "" {
			c.Sinks[i].Indexes = "copy"
		}
	}
	for i := range c.Sources {
		if c.Sources[i].TopicPrefix == "" {
			c.Sources[i].TopicPrefix = c.Kafka.TopicPrefix + "." + c.Sources[i].Name
		}
	}
}

// identifier lowers name and replaces every byte that is not [a-z0-9_]
// with an underscore, so it can name a slot or publication.
func identifier(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// minMemoryLimit: below it the garbage collector would run without pause.
const minMemoryLimit = 64 << 20

// MemoryLimitBytes is MemoryLimit in bytes; ok is false for "off".
func (c *Config) MemoryLimitBytes() (n int64, ok bool, err error) {
	return parseMemoryLimit(c.MemoryLimit)
}

func parseMemoryLimit(s string) (int64, bool, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return 0, false, nil
	}
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimSpace(s[len(num):])
	mult, known := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !known || err != nil || num == "" {
		return 0, false, fmt.Errorf("%q is not a size: want a number with a unit (B, KiB, MiB, GiB, TiB), like 448MiB, or off", s)
	}
	if n > (1<<62)/mult {
		return 0, false, fmt.Errorf("%q is too large", s)
	}
	if n *= mult; n < minMemoryLimit {
		return 0, false, fmt.Errorf("%q is below 64MiB: the garbage collector would run without pause (off for no limit)", s)
	}
	return n, true, nil
}
