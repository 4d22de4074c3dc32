package config

import (
	"errors"
	"fmt"
	"github.com/walship/walship/origins"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/walship/walship/filter"
	"github.com/walship/walship/offsets"
)

var (
	// PostgreSQL slot names: lower-case letters, digits and underscores, at
	// most NAMEDATALEN-1 bytes.
	slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	// Publication names are identifiers; we keep to the unquoted subset.
	pubName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	// Source and sink names appear in topics, metrics labels and tables.
	objName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	// Table patterns: schema.table, each part an identifier or * glob.
	tablePattern = regexp.MustCompile(`^[A-Za-z0-9_$*]+\.[A-Za-z0-9_$*]+$`)
)

// at finds the node for path, or the nearest ancestor that has one.
func (d *decoder) at(path string) *yaml.Node {
	for p := path; ; {
		if n, ok := d.nodes[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return d.nodes[""]
		}
		p = p[:i]
	}
}

func (d *decoder) fail(path, format string, args ...any) {
	d.errorf(d.at(path), path, format, args...)
}

// explicitZero reports a key the file sets to zero where zero means
// nothing (a count of 0 workers, a timeout of 0s): absent, the key takes
// its default; written as 0 it is a mistake, not a request for the
// default.
func (d *decoder) explicitZero(path, want string) {
	n, ok := d.nodes[path]
	if !ok || n.Kind != yaml.ScalarNode {
		return
	}
	v := n.Value // literal values only: expanding again would report its errors twice
	zero := v == "0" || v == "+0" || v == "-0"
	if dur, err := time.ParseDuration(v); err == nil && dur == 0 {
		zero = true
	}
	if zero {
		d.errorf(n, path, "0 is not allowed: %s (leave the key out for its default)", want)
	}
}

// clusterName is what cluster.name may hold: it becomes part of Kafka
// topic and group names.
var clusterName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

func (d *decoder) validate(c *Config) {
	if c.ShutdownTimeout < 0 {
		d.fail("shutdown_timeout", "must be positive")
	}
	d.explicitZero("shutdown_timeout", "a shutdown needs time to drain")
	if _, _, err := c.MemoryLimitBytes(); err != nil {
		d.fail("memory_limit", "%v", err)
	}
	if cl := c.Cluster; cl != nil {
		switch {
		case cl.Name == "":
			d.fail("cluster.name", "is required: members with the same name share the components")
		case !clusterName.MatchString(cl.Name):
			d.fail("cluster.name", "%q: use letters, digits, '.', '_' and '-' (at most 100)", cl.Name)
		}
		if cl.SessionTimeout < 6*time.Second || cl.SessionTimeout > 5*time.Minute {
			d.fail("cluster.session_timeout", "%s is outside Kafka's group session bounds, 6s to 5m", cl.SessionTimeout)
		}
		if cl.HeartbeatInterval <= 0 || cl.HeartbeatInterval*3 > cl.SessionTimeout {
			d.fail("cluster.heartbeat_interval", "%s must be positive and at most a third of session_timeout (%s)", cl.HeartbeatInterval, cl.SessionTimeout)
		}
		if cl.RebalanceTimeout < time.Second {
			d.fail("cluster.rebalance_timeout", "%s is too short for members to stop their components (at least 1s)", cl.RebalanceTimeout)
		}
	}
	d.explicitZero("kafka.partitions", "topics need at least one partition")
	d.explicitZero("kafka.replication_factor", "topics need at least one replica")
	d.explicitZero("kafka.dial_timeout", "a dial needs time")
	d.explicitZero("kafka.max_message_bytes", "a record needs room")
	for i := range c.Sinks {
		d.explicitZero(fmt.Sprintf("sinks[%d].workers", i), "a sink needs at least one worker")
	}
	for i, s := range c.Sources {
		if s.Postgres != nil {
			d.explicitZero(fmt.Sprintf("sources[%d].postgres.heartbeat_interval", i), "heartbeats need an interval")
			d.explicitZero(fmt.Sprintf("sources[%d].postgres.snapshot_workers", i), "a snapshot needs at least one worker")
			d.explicitZero(fmt.Sprintf("sources[%d].postgres.snapshot_chunk_rows", i), "a chunk needs at least one row")
		}
		if s.MySQL != nil {
			d.explicitZero(fmt.Sprintf("sources[%d].mysql.snapshot_workers", i), "a snapshot needs at least one worker")
			d.explicitZero(fmt.Sprintf("sources[%d].mysql.snapshot_chunk_rows", i), "a chunk needs at least one row")
		}
	}
	if c.HTTP.Listen != "off" {
		if _, port, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			d.fail("http.listen", "expected host:port or \"off\", got %q", c.HTTP.Listen)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			d.fail("http.listen", "port %q is not a number from 0 to 65535", port)
		}
	}
	d.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	d.oneOf("log.format", c.Log.Format, "text", "json")
	d.validateKafka(c)

	sources := map[string]int{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		d.name(p, s.Name)
		if first, dup := sources[s.Name]; dup && s.Name != "" {
			d.fail(p+".name", "duplicate source name %q (first at sources[%d])", s.Name, first)
		} else {
			sources[s.Name] = i
		}
		switch {
		case s.External != "":
			d.oneOf(p+".external", s.External, "postgres", "mysql", "mariadb")
			if s.Postgres != nil || s.MySQL != nil {
				d.fail(p+".external", "an external source has no postgres or mysql block: another daemon captures it")
			}
		case s.Postgres != nil && s.MySQL != nil:
			d.fail(p, "set exactly one of postgres or mysql, not both")
		case s.Postgres != nil:
			d.validatePGSource(p+".postgres", s.Postgres)
		case s.MySQL != nil:
			d.validateMySQLSource(p+".mysql", s.MySQL)
			d.tlsFiles(p+".mysql.tls", s.MySQL.TLS)
		default:
			d.fail(p, "missing engine: set postgres or mysql (or external, for a source another daemon captures)")
		}
	}
	d.uniqueSlots(c)
	// Derived prefixes (<kafka.topic_prefix>.<name>) are valid and distinct
	// when the parts are; only a set topic_prefix needs checking.
	prefixes := map[string]int{}
	explicit := func(i int) bool { _, ok := d.nodes[fmt.Sprintf("sources[%d].topic_prefix", i)]; return ok }
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d].topic_prefix", i)
		if explicit(i) && (!objName.MatchString(s.TopicPrefix) || len(s.TopicPrefix) > 200) {
			d.fail(p, "must be letters, digits, '.', '_' or '-' (at most 200), got %q", s.TopicPrefix)
			continue
		}
		if first, dup := prefixes[s.TopicPrefix]; dup && (explicit(i) || explicit(first)) {
			at, other := i, first
			if !explicit(i) {
				at, other = first, i
			}
			d.fail(fmt.Sprintf("sources[%d].topic_prefix", at), "topic prefix %q is already used by sources[%d]: the sources would share topics", s.TopicPrefix, other)
		}
		prefixes[s.TopicPrefix] = i
	}

	for i, s := range c.Sources {
		d.filterRules(fmt.Sprintf("sources[%d]", i), s.Columns, s.Where, s.HashKey != "", false)
	}
	sinks := map[string]int{}
	for i, s := range c.Sinks {
		p := fmt.Sprintf("sinks[%d]", i)
		d.filterRules(p, s.Columns, s.Where, false, true)
		d.name(p, s.Name)
		if first, dup := sinks[s.Name]; dup && s.Name != "" {
			d.fail(p+".name", "duplicate sink name %q (first at sinks[%d])", s.Name, first)
		} else {
			sinks[s.Name] = i
		}
		if len(s.From) == 0 {
			d.fail(p+".from", "missing required key: list the sources this sink applies")
		}
		seen := map[string]bool{}
		for j, f := range s.From {
			fp := fmt.Sprintf("%s.from[%d]", p, j)
			if seen[f] {
				d.fail(fp, "source %q is listed twice", f)
			}
			seen[f] = true
			if _, ok := sources[f]; !ok {
				d.fail(fp, "names no configured source: %q", f)
			}
		}
		if s.Workers < 1 || s.Workers > 256 {
			d.fail(p+".workers", "must be from 1 to 256, got %d", s.Workers)
		}
		d.oneOf(p+".commit_order", s.CommitOrder, "source", "dependencies")
		if c := s.Conflicts; c != nil {
			policies := []string{"error", "keep_local", "keep_remote", "record"}
			if c.Policy == "last_write_wins" {
				d.fail(p+".conflicts.policy", "last_write_wins is not available yet: use keep_local, keep_remote or record (with counters for numbers both leaders add to)")
			} else if c.Policy != "" {
				d.oneOf(p+".conflicts.policy", c.Policy, policies...)
			}
			for t, pol := range c.Tables {
				kp := fmt.Sprintf("%s.conflicts.tables.%s", p, t)
				if !tablePattern.MatchString(t) || strings.Contains(t, "*") {
					d.fail(kp, "the key must be a source table schema.table without wildcards, got %q", t)
				}
				if pol == "last_write_wins" {
					d.fail(kp, "last_write_wins is not available yet: use keep_local, keep_remote or record")
				} else {
					d.oneOf(kp, pol, policies...)
				}
			}
			for t, cols := range c.Counters {
				kp := fmt.Sprintf("%s.conflicts.counters.%s", p, t)
				if !tablePattern.MatchString(t) || strings.Contains(t, "*") {
					d.fail(kp, "the key must be a source table schema.table without wildcards, got %q", t)
				}
				if len(cols) == 0 {
					d.fail(kp, "list the counter columns of the table")
				}
			}
		}
		d.oneOf(p+".indexes", s.Indexes, "copy", "primary_key_only")
		if s.FollowerForeignKeys && s.Engine() != "postgres" && s.Engine() != "" {
			d.fail(p+".follower_foreign_keys", "needs a PostgreSQL follower (this sink's is %s): MySQL checks foreign keys row by row, so a transaction's changes applied in log order can break one on the way; SQLite cannot add one to an existing table", s.Engine())
		}
		for src, mode := range s.Tables.Indexes {
			kp := fmt.Sprintf("%s.tables.indexes.%s", p, src)
			if !tablePattern.MatchString(src) || strings.Contains(src, "*") {
				d.fail(kp, "the key must be a source table schema.table without wildcards, got %q", src)
			}
			d.oneOf(kp, mode, "copy", "primary_key_only")
		}
		targets := map[string]string{}
		for src, dst := range s.Tables.Rename {
			kp := fmt.Sprintf("%s.tables.rename.%s", p, src)
			if !tablePattern.MatchString(src) || strings.Contains(src, "*") {
				d.fail(kp, "the key must be a source table schema.table without wildcards, got %q", src)
			}
			if dst == "" {
				d.fail(kp, "missing the follower table name")
			}
			if other, dup := targets[dst]; dup {
				a, b := other, src
				if b < a {
					a, b = b, a
				}
				d.fail(fmt.Sprintf("%s.tables.rename.%s", p, b), "source tables %s and %s both map to follower table %q", a, b, dst)
			}
			targets[dst] = src
		}
		if t := s.DeadLetterTopic; t != "" {
			if !objName.MatchString(t) || len(t) > 249 {
				d.fail(p+".dead_letter_topic", "must be a Kafka topic name (letters, digits, '.', '_' or '-', at most 249), got %q", t)
			}
			for _, src := range c.Sources {
				if t == src.TopicPrefix || strings.HasPrefix(t, src.TopicPrefix+".") {
					d.fail(p+".dead_letter_topic", "%q is inside source %s's topics (prefix %q): choose a topic outside every source's prefix", t, src.Name, src.TopicPrefix)
				}
			}
		}
		engines := 0
		if s.Postgres != nil {
			engines++
			d.required(p+".postgres.dsn", string(s.Postgres.DSN))
		}
		if s.MySQL != nil {
			engines++
			d.required(p+".mysql.dsn", string(s.MySQL.DSN))
		}
		if s.SQLite != nil {
			engines++
			d.required(p+".sqlite.path", s.SQLite.Path)
		}
		switch engines {
		case 0:
			d.fail(p, "missing engine: set postgres, mysql or sqlite")
		case 1:
		default:
			d.fail(p, "set exactly one of postgres, mysql or sqlite")
		}
	}
	d.ignoreWrites(c, sinks)
}

// ignoreWrites checks each source's ignore_writes_of: sinks of this file,
// once each, writing into a database of the source's engine.
func (d *decoder) ignoreWrites(c *Config, sinks map[string]int) {
	for i, s := range c.Sources {
		seen := map[string]bool{}
		for j, name := range s.IgnoreWritesOf {
			p := fmt.Sprintf("sources[%d].ignore_writes_of[%d]", i, j)
			if seen[name] {
				d.fail(p, "sink %q is listed twice", name)
				continue
			}
			seen[name] = true
			if s.External != "" {
				d.fail(p, "an external source is captured by another daemon: set ignore_writes_of in that daemon's file")
				continue
			}
			k, ok := sinks[name]
			if !ok {
				d.fail(p, "names no sink of this file: %q (the sink that writes into this source's database must run from the same file, so both agree on how its writes are named)", name)
				continue
			}
			sk := c.Sinks[k]
			switch {
			case s.Postgres != nil && sk.Postgres == nil:
				d.fail(p, "sink %s writes into a %s follower, which this PostgreSQL source does not read", name, sk.Engine())
			case s.MySQL != nil && sk.MySQL == nil:
				d.fail(p, "sink %s writes into a %s follower, which this MySQL/MariaDB source does not read", name, sk.Engine())
			case s.MySQL != nil && s.MySQL.ServerID != 0 && origins.ServerID(name, sk.MySQL.OriginServerID) == s.MySQL.ServerID:
				d.fail(fmt.Sprintf("sinks[%d].mysql.origin_server_id", k), "is the server_id source %s reads the binlog with: choose another", s.Name)
			}
		}
	}
}

// tlsFiles checks the files of a tls block.
func (d *decoder) tlsFiles(path string, t *TLS) {
	if t == nil {
		return
	}
	for _, kf := range [][2]string{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if kf[1] == "" {
			continue
		}
		if _, err := os.Stat(kf[1]); err != nil {
			d.fail(path+"."+kf[0], "cannot read %s: %v", kf[1], errors.Unwrap(err))
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		d.fail(path, "set both cert_file and key_file for a client certificate, or neither")
	}
}

func (d *decoder) validateKafka(c *Config) {
	k := c.Kafka
	if k.MaxMessageBytes < 1<<20 || k.MaxMessageBytes > 1<<30 {
		d.fail("kafka.max_message_bytes", "must be from 1048576 (1 MiB) to 1073741824 (1 GiB), got %d", k.MaxMessageBytes)
	}
	if len(k.Brokers) == 0 && (len(c.Sources) > 0 || len(c.Sinks) > 0) {
		d.fail("kafka.brokers", "missing required key: at least one broker host:port")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			d.fail(fmt.Sprintf("kafka.brokers[%d]", i), "expected host:port, got %q", b)
		}
	}
	if !objName.MatchString(k.TopicPrefix) {
		d.fail("kafka.topic_prefix", "must be letters, digits, '.', '_' or '-', got %q", k.TopicPrefix)
	}
	d.tlsFiles("kafka.tls", k.TLS)
	if s := k.SASL; s != nil {
		switch s.Mechanism {
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
		case "PLAIN":
			if k.TLS == nil {
				d.fail("kafka.sasl.mechanism", "PLAIN sends the password in clear text: set kafka.tls too, or use SCRAM-SHA-256")
			}
		default:
			d.fail("kafka.sasl.mechanism", "want SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN, got %q", s.Mechanism)
		}
		if s.Username == "" {
			d.fail("kafka.sasl.username", "missing required key")
		}
		if s.Password == "" && s.PasswordFile == "" {
			d.fail("kafka.sasl.password", "missing: set password (${ENV}) or password_file")
		}
	}
	if k.Partitions < 1 || k.Partitions > 10000 {
		d.fail("kafka.partitions", "must be from 1 to 10000, got %d", k.Partitions)
	}
	if k.ReplicationFactor < 1 || k.ReplicationFactor > 32 {
		d.fail("kafka.replication_factor", "must be from 1 to 32, got %d", k.ReplicationFactor)
	}
	d.oneOf("kafka.envelope", k.Envelope, "json", "json-schema", "rows")
	d.oneOf("kafka.decimal_handling", k.DecimalHandling, "precise", "string", "double")
}

func (d *decoder) validatePGSource(p string, pg *PostgresSource) {
	d.required(p+".dsn", string(pg.DSN))
	if !slotName.MatchString(pg.Slot) {
		d.fail(p+".slot", "a slot name is 1-63 lower-case letters, digits or underscores, got %q", pg.Slot)
	}
	if !pubName.MatchString(pg.Publication) {
		d.fail(p+".publication", "a publication name is an identifier of at most 63 bytes, got %q", pg.Publication)
	}
	d.tables(p+".tables", pg.Tables)
	d.oneOf(p+".snapshot", pg.Snapshot, "initial", "never")
	d.oneOf(p+".failover_slot", pg.FailoverSlot, "auto", "on", "off")
	d.snapshotWorkers(p, pg.SnapshotWorkers, pg.SnapshotChunkRows)
	d.oneOf(p+".durability", pg.Durability, "async", "sync")
	if st := pg.SignalTable; st != "" {
		schema, table, ok := strings.Cut(st, ".")
		if !ok || strings.Contains(st, "*") || !tablePattern.MatchString(st) {
			d.fail(p+".signal_table", "expected schema.table without wildcards, got %q", st)
		} else if !MatchTable(pg.Tables, schema, table) {
			d.fail(p+".signal_table", "%s is not among the captured tables: add it to tables:, so that its inserts reach the stream", st)
		}
	}
	if kb, ok := workMemKB(pg.DecodingWorkMem); pg.DecodingWorkMem != "" && (!ok || kb < 64 || kb > 2<<20) {
		d.fail(p+".decoding_work_mem", "expected a size from 64kB to 2GB such as 8MB (units kB, MB, GB), got %q", pg.DecodingWorkMem)
	}
	if _, err := strconv.ParseUint(pg.AcceptSystemID, 10, 64); pg.AcceptSystemID != "" && err != nil {
		d.fail(p+".accept_system_id", "expected a PostgreSQL system identifier, a decimal number such as 7345123456789012345 (the one walship's refusal named), got %q", pg.AcceptSystemID)
	}
	if _, err := offsets.ParseLSN(pg.AcceptSlotGapAt); pg.AcceptSlotGapAt != "" && err != nil {
		d.fail(p+".accept_slot_gap_at", "expected an LSN such as 0/16B3748 (the slot position walship's refusal named), got %q", pg.AcceptSlotGapAt)
	}
}

// workMemKB reads a PostgreSQL memory setting (a number and kB, MB or GB)
// as kilobytes.
func workMemKB(s string) (int64, bool) {
	m := workMem.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, false
	}
	return n * map[string]int64{"kB": 1, "MB": 1 << 10, "GB": 1 << 20}[m[2]], true
}

var workMem = regexp.MustCompile(`^([0-9]+)(kB|MB|GB)$`)

func (d *decoder) validateMySQLSource(p string, my *MySQLSource) {
	if d.required(p+".addr", my.Addr) {
		for _, a := range strings.Split(my.Addr, ",") {
			if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
				d.fail(p+".addr", "expected host:port (or several, comma-separated), got %q", my.Addr)
				break
			}
		}
	}
	d.required(p+".user", my.User)
	if my.ServerID == 0 {
		d.fail(p+".server_id", "missing required key: a non-zero replica server id, unique on the server")
	}
	d.oneOf(p+".flavor", my.Flavor, "mysql", "mariadb")
	d.snapshotWorkers(p, my.SnapshotWorkers, my.SnapshotChunkRows)
	if len(my.Tables) == 0 {
		d.fail(p+".tables", "missing required key: schema.table patterns to capture, such as shop.*")
	}
	d.tables(p+".tables", my.Tables)
	d.oneOf(p+".snapshot", my.Snapshot, "initial", "never")
	d.oneOf(p+".durability", my.Durability, "async", "semisync")
	d.oneOf(p+".stream_from", my.StreamFrom, "primary", "replica")
	if st := my.SignalTable; st != "" && (!strings.Contains(st, ".") || strings.Contains(st, "*") || !tablePattern.MatchString(st)) {
		d.fail(p+".signal_table", "expected database.table without wildcards, got %q", st)
	}
	for i, c := range my.RawCharsets {
		if c != "*" && !slices.Contains(RawCharsetNames, strings.ToLower(c)) {
			d.fail(fmt.Sprintf("%s.raw_charsets[%d]", p, i), "%q is not a character set walship decodes; one of %s, or *",
				c, strings.Join(RawCharsetNames, ", "))
		}
	}
}

// uniqueSlots rejects two PostgreSQL sources on one DSN sharing a slot: the
// second would be refused by the server at run time.
// filterRules checks the columns: and where: rules of a source or, with
// sink, of a sink (exclude only): table names, one rule per column, a
// hash key where columns are hashed, the expressions' syntax (with the
// position in the expression). The tables and columns themselves are
// checked against the source by walship check and at run time.
func (d *decoder) filterRules(p string, cols map[string]ColumnRules, where map[string]string, hashKey, sink bool) {
	table := func(path, name string) bool {
		if strings.Count(name, ".") != 1 || strings.ContainsAny(name, "*? ") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			d.fail(path, "expected a table as schema.table (no patterns), got %q", name)
			return false
		}
		return true
	}
	for _, name := range slices.Sorted(maps.Keys(cols)) {
		r := cols[name]
		tp := p + ".columns." + name
		if !table(tp, name) {
			continue
		}
		if sink && (len(r.Hash) > 0 || len(r.Mask) > 0 || len(r.Truncate) > 0) {
			d.fail(tp, "a sink takes exclude only: hash, mask and truncate belong on the source, so the values never reach the log")
		}
		if len(r.Hash) > 0 && !hashKey {
			d.fail(tp+".hash", "columns are hashed but the source has no hash_key (or hash_key_file)")
		}
		seen := map[string]string{}
		rule := func(kind, c string) {
			if first, dup := seen[c]; dup {
				d.fail(tp+"."+kind, "column %s has two rules (%s and %s)", c, first, kind)
			}
			seen[c] = kind
		}
		for _, c := range r.Exclude {
			rule("exclude", c)
		}
		for _, c := range r.Hash {
			rule("hash", c)
		}
		for _, c := range r.Mask {
			rule("mask", c)
		}
		for _, c := range slices.Sorted(maps.Keys(r.Truncate)) {
			rule("truncate", c)
			if r.Truncate[c] <= 0 {
				d.fail(tp+".truncate."+c, "truncate to %d characters: must be at least 1", r.Truncate[c])
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(where)) {
		wp := p + ".where." + name
		if !table(wp, name) {
			continue
		}
		if strings.TrimSpace(where[name]) == "" {
			d.fail(wp, "an empty condition (leave the table out to keep every row)")
			continue
		}
		if err := filter.CheckWhere(where[name]); err != nil {
			d.fail(wp, "the condition does not parse: %v", err)
		}
	}
}

func (d *decoder) uniqueSlots(c *Config) {
	seen := map[string]int{}
	for i, s := range c.Sources {
		if s.Postgres == nil {
			continue
		}
		key := string(s.Postgres.DSN) + "\x00" + s.Postgres.Slot
		if first, dup := seen[key]; dup {
			d.fail(fmt.Sprintf("sources[%d].postgres.slot", i), "slot %q is already used by sources[%d] on the same server", s.Postgres.Slot, first)
			continue
		}
		seen[key] = i
	}
}

func (d *decoder) tables(p string, patterns []string) {
	for i, t := range patterns {
		if !tablePattern.MatchString(t) {
			d.fail(fmt.Sprintf("%s[%d]", p, i), "expected schema.table with optional * wildcards, got %q", t)
		}
	}
}

func (d *decoder) name(p, name string) {
	if name == "" {
		d.fail(p+".name", "missing required key")
		return
	}
	if !objName.MatchString(name) {
		d.fail(p+".name", "must start with a letter or digit and hold only letters, digits, '.', '_' or '-' (at most 63), got %q", name)
	}
}

func (d *decoder) required(path, v string) bool {
	if v == "" {
		d.fail(path, "missing required key")
		return false
	}
	return true
}

func (d *decoder) oneOf(path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	d.fail(path, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

// snapshotWorkers checks a source's snapshot_workers and
// snapshot_chunk_rows (0, written out, is reported by explicitZero).
func (d *decoder) snapshotWorkers(p string, n, rows int) {
	if n < 0 || n > 64 {
		d.fail(p+".snapshot_workers", "must be from 1 to 64, got %d", n)
	}
	if rows < 0 || rows > 1000000 {
		d.fail(p+".snapshot_chunk_rows", "must be from 1 to 1000000, got %d", rows)
	}
}
