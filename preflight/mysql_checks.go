package preflight

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
)

// sysVar reads the global system variable name. exists is false when the
// server does not have it (error 1193).
func sysVar(ctx context.Context, conn *sql.Conn, name string) (value string, exists bool, err error) {
	var v sql.NullString
	err = conn.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v)
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == erUnknownSystemVar {
		return "", false, nil
	}
	return v.String, err == nil, err
}

// mysqlSourceNeeds are the privileges a source's user needs.
func mysqlSourceNeeds(snapshot string) []privNeed {
	needs := []privNeed{
		{priv: "REPLICATION SLAVE", why: "to read the binlog"},
		{priv: "REPLICATION CLIENT", alt: "BINLOG MONITOR", why: "to read the binlog position (MariaDB 10.5+ calls it BINLOG MONITOR)"},
		{priv: "SELECT", onTables: true, why: "to snapshot and describe the captured tables"},
	}
	if snapshot == "initial" {
		needs = append(needs,
			privNeed{priv: "RELOAD", why: "for the consistent initial snapshot (FLUSH TABLES WITH READ LOCK)"},
			privNeed{priv: "LOCK TABLES", onTables: true, why: "for the consistent initial snapshot"},
		)
	}
	return needs
}

func checkMySQLSource(ctx context.Context, r *Result, mc *mysql.Config, key string, src *config.MySQLSource) {
	db, conn := mysqlConnect(ctx, r, mc, key, key+".addr")
	if conn == nil {
		return
	}
	defer db.Close()
	defer conn.Close()

	s, ok := readMySQLServer(ctx, r, conn)
	if !ok {
		return
	}
	if s.flavor != src.Flavor {
		r.problem(Config, "the server is %s but %s.flavor is %s: set flavor: %s", s.describe(), key, src.Flavor, s.flavor)
	}
	checkSignalTable(ctx, r, conn, key, src)

	var (
		serverID      uint32
		logBin        int64
		format, image string
	)
	err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id, @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image").
		Scan(&serverID, &logBin, &format, &image)
	if err != nil {
		mysqlQueryProblem(r, "reading the binlog settings", err)
		return
	}
	if serverID == src.ServerID {
		r.problem(Config, "%s.server_id is %d, the server's own server_id: choose another id, unique among the server's replicas", key, src.ServerID)
	}
	if logBin == 0 {
		r.problem(Setting, "binary logging is off (log_bin=OFF): add log_bin=mysql-bin and a server_id under [mysqld] in my.cnf and restart the server")
	} else {
		r.fact("log_bin=ON")
	}
	if !strings.EqualFold(format, "ROW") {
		r.problem(Setting, "binlog_format is %s, need ROW: SET GLOBAL binlog_format = ROW and set binlog_format=ROW in my.cnf (sessions already open keep the old format)", format)
	} else {
		r.fact("binlog_format=ROW")
	}
	if !strings.EqualFold(image, "FULL") {
		r.problem(Setting, "binlog_row_image is %s, need FULL: SET GLOBAL binlog_row_image = FULL and set binlog_row_image=FULL in my.cnf", image)
	} else {
		r.fact("binlog_row_image=FULL")
	}
	switch meta, exists, err := sysVar(ctx, conn, "binlog_row_metadata"); {
	case err != nil:
		mysqlQueryProblem(r, "reading binlog_row_metadata", err)
	case !exists:
		r.problem(Version, "%s has no binlog_row_metadata, which walship needs to name the columns of binlog rows: upgrade to MySQL 8.0.1+ or MariaDB 10.5+", s.describe())
	case !strings.EqualFold(meta, "FULL"):
		r.problem(Setting, "binlog_row_metadata is %s, need FULL: SET GLOBAL binlog_row_metadata = FULL and set binlog_row_metadata=FULL in my.cnf", meta)
	default:
		r.fact("binlog_row_metadata=FULL")
	}

	// GTIDs: the server's actual flavor decides which variable to read.
	if s.flavor == "mariadb" {
		switch pos, _, err := sysVar(ctx, conn, "gtid_binlog_pos"); {
		case err != nil:
			mysqlQueryProblem(r, "reading gtid_binlog_pos", err)
		case pos == "":
			r.fact("GTIDs on (gtid_binlog_pos is empty: nothing logged yet)")
		default:
			r.fact("gtid_binlog_pos=%s", pos)
			if strings.Contains(pos, ",") {
				r.fact("several GTID domains in the binlog: a new source orders transactions by binlog file and offset, which does not survive a change of server (with one domain, by GTID sequence number)")
			}
		}
	} else {
		switch mode, exists, err := sysVar(ctx, conn, "gtid_mode"); {
		case err != nil:
			mysqlQueryProblem(r, "reading gtid_mode", err)
		case !exists:
			r.problem(Version, "%s has no gtid_mode: upgrade to MySQL 5.7 or later", s.describe())
		case !strings.EqualFold(mode, "ON"):
			r.problem(Setting, "gtid_mode is %s, need ON: set gtid_mode=ON and enforce_gtid_consistency=ON in my.cnf and restart (or step gtid_mode online through OFF_PERMISSIVE and ON_PERMISSIVE)", mode)
		default:
			r.fact("gtid_mode=ON")
		}
	}

	checkCascadeParents(ctx, r, conn, s.flavor, key, src.Tables)
	mysqlTopicCollisions(ctx, r, conn, key, src)

	g, ok := readGrants(ctx, r, conn)
	if !ok {
		return
	}
	missingPrivileges(r, g, s, mysqlSourceNeeds(src.Snapshot), src.Tables)
}

// mysqlTopicCollisions lists the captured tables and reports those whose
// topics coincide, and the patterns that match no table.
func mysqlTopicCollisions(ctx context.Context, r *Result, conn *sql.Conn, key string, src *config.MySQLSource) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
		  AND TABLE_SCHEMA NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')`)
	if err != nil {
		mysqlQueryProblem(r, "listing the tables to capture", err)
		return
	}
	defer rows.Close()
	var all, tables [][2]string
	for rows.Next() {
		var t [2]string
		if err := rows.Scan(&t[0], &t[1]); err != nil {
			mysqlQueryProblem(r, "listing the tables to capture", err)
			return
		}
		all = append(all, t)
		if config.MatchTable(src.Tables, t[0], t[1]) {
			tables = append(tables, t)
		}
	}
	if err := rows.Err(); err != nil {
		mysqlQueryProblem(r, "listing the tables to capture", err)
		return
	}
	unmatchedPatterns(r, key, src.Tables, all)
	topicCollisions(r, tables)
}

// mysqlSinkNeeds are the privileges a sink's user needs on its database.
var mysqlSinkNeeds = []privNeed{
	{priv: "CREATE", onTables: true, why: "to create the follower tables"},
	{priv: "ALTER", onTables: true, why: "to follow schema changes"},
	{priv: "DROP", onTables: true, why: "to apply TRUNCATE and dropped tables"},
	{priv: "SELECT", onTables: true, why: "to read the stored positions"},
	{priv: "INSERT", onTables: true, why: "to apply changes"},
	{priv: "UPDATE", onTables: true, why: "to apply changes"},
	{priv: "DELETE", onTables: true, why: "to apply changes"},
}

func checkMySQLSink(ctx context.Context, r *Result, mc *mysql.Config, key string) {
	db, conn := mysqlConnect(ctx, r, mc, key, key+".dsn")
	if conn == nil {
		return
	}
	defer db.Close()
	defer conn.Close()

	s, ok := readMySQLServer(ctx, r, conn)
	if !ok || mc.DBName == "" {
		return // a DSN without a database is already a problem
	}
	r.fact("database %s exists", mc.DBName)
	g, ok := readGrants(ctx, r, conn)
	if !ok {
		return
	}
	missingPrivileges(r, g, s, mysqlSinkNeeds, []string{mc.DBName + ".*"})
	if !g.hasGlobal("PROCESS") {
		// commit_order source asks INNODB_TRX which sessions wait for a
		// batch's locks; without PROCESS it cannot, and a later batch
		// holding a lock an earlier one needs gives way only after 2 s.
		r.note("the user lacks PROCESS: with commit_order source, a follower transaction that blocks an earlier one " +
			"(a trigger, a gap lock) is noticed after 2 s instead of at once (GRANT PROCESS ON *.* to notice it at once)")
	}
}

// checkSignalTable says whether the source can take incremental snapshots:
// a signal_table, there or to be created by walship.
func checkSignalTable(ctx context.Context, r *Result, conn *sql.Conn, key string, src *config.MySQLSource) {
	if src.SignalTable == "" {
		r.note("incremental snapshots (walship snapshot, signals) need %s.signal_table: a table (database.table) that carries their watermarks in the binlog", key)
		return
	}
	schema, table, _ := strings.Cut(src.SignalTable, ".")
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&n); err != nil {
		mysqlQueryProblem(r, "looking up the signal table", err)
		return
	}
	if n == 1 {
		r.fact("signal table %s", src.SignalTable)
		return
	}
	r.note("signal table %s does not exist yet: walship creates it at the first incremental snapshot, which needs CREATE on %s (or create it: CREATE TABLE %s (id varchar(64) NOT NULL PRIMARY KEY, type varchar(64) NOT NULL, data text)); it needs INSERT and UPDATE on it",
		src.SignalTable, schema, src.SignalTable)
}
