package preflight

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/config"
	mysqlsource "github.com/walship/walship/sources/mysql"
)

// MySQL error numbers classified here.
const (
	erDBAccessDenied   = 1044
	erAccessDenied     = 1045
	erBadDB            = 1049
	erTooManyConns     = 1040
	erHostBlocked      = 1129
	erHostNotAllowed   = 1130
	erUnknownSystemVar = 1193
)

// mysqlSource builds the target of a MySQL or MariaDB source.
func mysqlSource(key, name string, src *config.MySQLSource) target {
	mc := mysql.NewConfig()
	mc.User = src.User
	mc.Passwd = src.Password.Reveal()
	mc.Net = "tcp"
	addrs := splitAddrs(src.Addr)
	mc.Addr = addrs[0]
	mc.Timeout = ConnectTimeout
	mc.Logger = &mysql.NopLogger{}
	// Each address is verified against its own host name (or
	// tls.server_name), as the source connects.
	tlsConf, tlsErr := src.TLS.Config("")
	mc.TLS = mysqlsource.TLSFor(tlsConf, addrs[0])
	return target{
		res:     Result{Target: "source " + name, Engine: src.Flavor, Addr: src.Addr},
		secrets: []string{mc.Passwd},
		run: func(ctx context.Context, r *Result) {
			if tlsErr != nil {
				r.Problems = append(r.Problems, Problem{Code: Config, Msg: "mysql." + tlsErr.Error()})
				return
			}
			if len(addrs) == 1 {
				checkMySQLSource(ctx, r, mc, key, src)
				return
			}
			checkMySQLSourceAddrs(ctx, r, mc, tlsConf, key, src, addrs)
		},
	}
}

// splitAddrs is a source's comma-separated addresses, trimmed.
func splitAddrs(addr string) []string {
	var out []string
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return []string{addr}
	}
	return out
}

// checkMySQLSourceAddrs checks a source given several addresses (the
// servers of a replication group): the leader the source would stream
// from (mysqlsource.OpenLeader's choice: the first primary) gets every
// check of a single address; each other address is checked as a server
// that may be promoted to lead: it answers, and its binlog would carry on
// the leader's history (binary logging, ROW, full images, and
// log_slave_updates, without which its binlog lacks the transactions it
// replicated and the source refuses it after a failover).
func checkMySQLSourceAddrs(ctx context.Context, r *Result, mc *mysql.Config, tlsConf *tls.Config, key string, src *config.MySQLSource, addrs []string) {
	type probe struct {
		addr    string
		db      *sql.DB
		conn    *sql.Conn
		primary bool
		why     string
	}
	var probes []*probe
	defer func() {
		for _, p := range probes {
			if p.conn != nil {
				p.conn.Close()
				p.db.Close()
			}
		}
	}()
	leader := -1
	for _, a := range addrs {
		c := *mc
		c.Addr, c.TLS = a, mysqlsource.TLSFor(tlsConf, a)
		scratch := Result{Addr: a}
		p := &probe{addr: a}
		probes = append(probes, p)
		if p.db, p.conn = mysqlConnect(ctx, &scratch, &c, key, key+".addr"); p.conn == nil {
			for _, pr := range scratch.Problems {
				p.why = pr.Msg
			}
			continue
		}
		primary, err := mysqlsource.IsPrimary(ctx, p.db, src.Flavor)
		if err != nil {
			p.why = err.Error()
			continue
		}
		p.primary = primary
		if primary && leader < 0 {
			leader = len(probes) - 1
		}
	}
	if leader < 0 {
		var why []string
		for _, p := range probes {
			switch {
			case p.why != "":
				why = append(why, p.addr+": "+p.why)
			default:
				why = append(why, p.addr+": not a primary (read_only, or replicating)")
			}
		}
		r.problem(Unreachable, "none of the %d addresses in %s.addr is a primary the source could stream from: %s", len(addrs), key, strings.Join(why, "; "))
		return
	}
	// stream_from: replica streams from the first replica that answers.
	streamed := leader
	if src.StreamFrom == "replica" {
		for i, p := range probes {
			if p.conn != nil && p.why == "" && !p.primary {
				streamed = i
				break
			}
		}
	}
	c := *mc
	c.Addr, c.TLS = probes[leader].addr, mysqlsource.TLSFor(tlsConf, probes[leader].addr)
	r.fact("%s is the leader (the first primary of %d addresses)", c.Addr, len(addrs))
	switch {
	case streamed != leader:
		c.Addr, c.TLS = probes[streamed].addr, mysqlsource.TLSFor(tlsConf, probes[streamed].addr)
		r.fact("%s is the replica the source streams from (stream_from: replica): walship ships only what it holds", c.Addr)
	case src.StreamFrom == "replica":
		r.problem(Setting, "stream_from is replica, but no replica among %s.addr answers: the source streams from the primary %s, and a replica promoted later may lack what walship ships", key, c.Addr)
	}
	checkMySQLSource(ctx, r, &c, key, src)
	ready := 0
	for i, p := range probes {
		switch {
		case i == streamed && i != leader:
			if standbyReady(ctx, r, p.conn, p.addr) {
				ready++
			}
		case i == leader:
		case p.conn == nil || p.why != "":
			r.note("%s does not answer (%s): the source passes it over, and it cannot take over as leader until it does", p.addr, p.why)
		case p.primary:
			r.problem(Setting, "%s is a primary too (writable, replicating from no one): two leaders in one source's addresses; the source streams from %s, the first. Make %s a replica of it (read_only, replicating), or drop it from %s.addr", p.addr, probes[leader].addr, p.addr, key)
		default:
			if standbyReady(ctx, r, p.conn, p.addr) {
				ready++
			}
		}
	}
	r.fact("failover: %d of %d other addresses ready to lead", ready, len(addrs)-1)
}

// standbyReady checks that a replica's binlog would carry on its leader's
// history once it is promoted, recording a problem for each setting that
// would not.
func standbyReady(ctx context.Context, r *Result, conn *sql.Conn, addr string) bool {
	var logBin, slaveUpdates int64
	var format, image string
	err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.log_slave_updates, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image").
		Scan(&logBin, &slaveUpdates, &format, &image)
	if err != nil {
		r.problem(Other, "%s: reading its binlog settings: %v", addr, err)
		return false
	}
	ok := true
	if logBin == 0 {
		r.problem(Setting, "%s cannot take over as leader: binary logging is off (log_bin=OFF); set log_bin and restart it", addr)
		ok = false
	}
	if slaveUpdates == 0 {
		r.problem(Setting, "%s cannot take over as leader: log_slave_updates is OFF, so its binlog lacks the transactions it replicated and walship refuses it after a failover; set log_slave_updates=ON and restart it", addr)
		ok = false
	}
	if !strings.EqualFold(format, "ROW") {
		r.problem(Setting, "%s cannot take over as leader: binlog_format is %s, need ROW", addr, format)
		ok = false
	}
	if !strings.EqualFold(image, "FULL") {
		r.problem(Setting, "%s cannot take over as leader: binlog_row_image is %s, need FULL", addr, image)
		ok = false
	}
	return ok
}

// mysqlSink builds the target of a MySQL or MariaDB sink from its DSN.
func mysqlSink(key, name string, sink *config.MySQLSink) target {
	dsn := sink.DSN.Reveal()
	t := target{res: Result{Target: "sink " + name, Engine: "mysql"}, secrets: []string{sink.Password.Reveal(), dsnPassword(dsn)}}
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.res.problem(Config, "%s.dsn (%s) is not a go-sql-driver DSN of the form user:password@tcp(host:3306)/dbname: %v: fix it",
			key, config.RedactDSN(dsn), err)
		return t
	}
	if pw := sink.Password.Reveal(); pw != "" {
		mc.Passwd = pw
	}
	mc.Timeout = ConnectTimeout
	mc.Logger = &mysql.NopLogger{}
	t.res.Addr = mc.Addr
	if mc.DBName == "" {
		t.res.problem(Config, "%s.dsn (%s) names no database: end it with the follower database, as in user@tcp(%s)/replica",
			key, config.RedactDSN(dsn), mc.Addr)
	}
	t.run = func(ctx context.Context, r *Result) { checkMySQLSink(ctx, r, mc, key) }
	return t
}

// dsnPassword is the password of a go-sql-driver DSN that may not parse:
// what lies between the first ':' and the last '@'.
func dsnPassword(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return ""
	}
	if _, pw, ok := strings.Cut(dsn[:at], ":"); ok {
		return pw
	}
	return ""
}

// mysqlConnect opens one session, or records why it could not and returns
// nil. The caller closes both.
// key names the config block, addrKey the key holding the address.
func mysqlConnect(ctx context.Context, r *Result, mc *mysql.Config, key, addrKey string) (*sql.DB, *sql.Conn) {
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		r.problem(Config, "the connection settings in %s are not valid: %v", key, err)
		return nil, nil
	}
	db := sql.OpenDB(connector)
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if err == nil {
		err = conn.PingContext(cctx)
		if err != nil {
			_ = conn.Close() // the failure is reported below
		}
	}
	if err != nil {
		_ = db.Close() // nothing was opened that needs reporting
		r.Problems = append(r.Problems, mysqlConnectProblem(err, r.Addr, mc, key, addrKey))
		return nil, nil
	}
	return db, conn
}

// mysqlConnectProblem classifies a failed connection by MySQL error
// number, then as a network failure.
func mysqlConnectProblem(err error, addr string, mc *mysql.Config, key, addrKey string) Problem {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case erAccessDenied:
			return Problem{AuthFailed, fmt.Sprintf("access denied for user %q (error 1045): check the user and password in %s (password or password_file), and that the user may log in from this host", mc.User, key)}
		case erHostNotAllowed:
			return Problem{AuthFailed, fmt.Sprintf("this host may not connect to %s (error 1130): create the user for this client host (CREATE USER '%s'@'<this host>' ...)", addr, mc.User)}
		case erBadDB:
			return Problem{NotFound, fmt.Sprintf("database %q does not exist (error 1049): CREATE DATABASE %s on the follower, or fix the database in %s.dsn", mc.DBName, quoteIdent(mc.DBName), key)}
		case erDBAccessDenied:
			return Problem{Privilege, fmt.Sprintf("user %q may not use database %q (error 1044): GRANT ALL ON %s.* TO the user", mc.User, mc.DBName, quoteIdent(mc.DBName))}
		case erTooManyConns:
			return Problem{Setting, "the server has no free connection (error 1040): raise max_connections or close idle sessions"}
		case erHostBlocked:
			return Problem{Setting, "this host is blocked after too many failed connections (error 1129): run FLUSH HOSTS on the server, then fix what failed"}
		}
		return Problem{Other, fmt.Sprintf("the server refused the connection: %s (error %d)", myErr.Message, myErr.Number)}
	}
	if p, ok := netProblem(err, addr, addrKey); ok {
		return p
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, mysql.ErrMalformPkt) {
		return Problem{Unreachable, fmt.Sprintf("%s closed the connection or did not speak the MySQL protocol: check that %s names a MySQL or MariaDB server", addr, addrKey)}
	}
	return Problem{Other, fmt.Sprintf("cannot connect to %s: %v", addr, err)}
}

// mysqlQueryProblem records a failed query after a successful connect.
func mysqlQueryProblem(r *Result, what string, err error) {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		r.problem(Other, "%s failed: %s (error %d)", what, myErr.Message, myErr.Number)
		return
	}
	if p, ok := netProblem(err, r.Addr, "the config"); ok {
		r.problem(p.Code, "%s failed: %s", what, p.Msg)
		return
	}
	r.problem(Other, "%s failed: %v", what, err)
}

// mysqlServer is what every MySQL check reads first.
type mysqlServer struct {
	version string // VERSION()
	user    string // CURRENT_USER(): user@host
	flavor  string // mysql or mariadb
}

// describe returns "MariaDB 10.11.4" or "MySQL 8.0.36".
func (s mysqlServer) describe() string {
	name := "MySQL"
	if s.flavor == "mariadb" {
		name = "MariaDB"
	}
	v, _, _ := strings.Cut(s.version, "-")
	return name + " " + v
}

// grantee quotes CURRENT_USER() for a GRANT statement: 'user'@'host'.
func (s mysqlServer) grantee() string {
	at := strings.LastIndex(s.user, "@")
	if at < 0 {
		return quoteString(s.user)
	}
	return quoteString(s.user[:at]) + "@" + quoteString(s.user[at+1:])
}

func readMySQLServer(ctx context.Context, r *Result, conn *sql.Conn) (mysqlServer, bool) {
	var s mysqlServer
	if err := conn.QueryRowContext(ctx, "SELECT VERSION(), CURRENT_USER()").Scan(&s.version, &s.user); err != nil {
		mysqlQueryProblem(r, "SELECT VERSION()", err)
		return s, false
	}
	s.flavor = "mysql"
	if strings.Contains(strings.ToLower(s.version), "mariadb") {
		s.flavor = "mariadb"
	}
	r.fact("%s", s.describe())
	return s, true
}

// readGrants runs SHOW GRANTS FOR CURRENT_USER().
func readGrants(ctx context.Context, r *Result, conn *sql.Conn) (grants, bool) {
	rows, err := conn.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		mysqlQueryProblem(r, "SHOW GRANTS", err)
		return grants{}, false
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			mysqlQueryProblem(r, "SHOW GRANTS", err)
			return grants{}, false
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		mysqlQueryProblem(r, "SHOW GRANTS", err)
		return grants{}, false
	}
	return parseGrants(lines), true
}

// privNeed is one privilege walship needs. With onTables it is needed on
// every captured table pattern, otherwise ON *.*. alt is another name that
// is just as good.
type privNeed struct {
	priv, alt string
	onTables  bool
	why       string
}

// missingPrivileges records one Privilege problem per needed privilege the
// user lacks, naming the patterns and the GRANT that fixes it.
func missingPrivileges(r *Result, g grants, s mysqlServer, needs []privNeed, patterns []string) {
	note := ""
	if g.viaRoles {
		note = " (privileges held through roles are not counted: grant them to the user directly)"
	}
	for _, n := range needs {
		held := func(pattern string) bool {
			if n.onTables {
				return g.hasOn(n.priv, pattern) || (n.alt != "" && g.hasOn(n.alt, pattern))
			}
			return g.hasGlobal(n.priv) || (n.alt != "" && g.hasGlobal(n.alt))
		}
		name := n.priv
		if n.alt != "" {
			name += " (or " + n.alt + ")"
		}
		if !n.onTables {
			if held("") {
				r.fact("%s granted", n.priv)
				continue
			}
			r.problem(Privilege, "user %s lacks %s, needed %s: GRANT %s ON *.* TO %s%s", s.grantee(), name, n.why, n.priv, s.grantee(), note)
			continue
		}
		var lacking, objects []string
		seen := map[string]bool{}
		for _, p := range patterns {
			if held(p) {
				continue
			}
			lacking = append(lacking, p)
			obj := "*.*"
			if schema, _, _ := strings.Cut(p, "."); !strings.Contains(schema, "*") {
				obj = quoteIdent(schema) + ".*"
			}
			if !seen[obj] {
				seen[obj] = true
				objects = append(objects, obj)
			}
		}
		if len(lacking) == 0 {
			r.fact("%s granted on %s", n.priv, strings.Join(patterns, ", "))
			continue
		}
		sort.Strings(objects)
		fixes := make([]string, len(objects))
		for i, o := range objects {
			fixes[i] = "GRANT " + n.priv + " ON " + o + " TO " + s.grantee()
		}
		r.problem(Privilege, "user %s lacks %s on %s, needed %s: %s%s", s.grantee(), name, strings.Join(lacking, ", "), n.why, strings.Join(fixes, "; "), note)
	}
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteString quotes a MySQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
