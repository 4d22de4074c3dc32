package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walship/walship/config"
)

// pgMinVersion is the first PostgreSQL release with pgoutput.
const pgMinVersion = 100000

// pgTarget parses a PostgreSQL DSN and fills the header of a target. It
// returns a nil config when the DSN does not parse; the target then holds
// the problem.
func pgTarget(key, what string, dsn, password config.Secret) (target, *pgx.ConnConfig) {
	t := target{res: Result{Target: what, Engine: "postgres"}, secrets: []string{password.Reveal()}}
	cc, err := pgx.ParseConfig(dsn.Reveal())
	if err != nil {
		// The parse error can quote the DSN: say what is wrong without it.
		t.res.problem(Config, "%s.dsn: %s: fix it", key, config.DSNProblem(dsn.Reveal(), err))
		return t, nil
	}
	if pw := password.Reveal(); pw != "" {
		cc.Password = pw
	}
	cc.ConnectTimeout = ConnectTimeout
	t.secrets = append(t.secrets, cc.Password)
	t.res.Addr = pgAddr(&cc.Config)
	return t, cc
}

// pgAddr is host:port, or the socket path for a unix socket directory.
func pgAddr(c *pgconn.Config) string {
	port := strconv.Itoa(int(c.Port))
	if strings.HasPrefix(c.Host, "/") {
		return c.Host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(c.Host, port)
}

// pgSource builds the target of a PostgreSQL source.
func pgSource(key, name string, src *config.PostgresSource) target {
	t, cc := pgTarget(key, "source "+name, src.DSN, src.Password)
	if cc != nil {
		t.run = func(ctx context.Context, r *Result) { checkPGSource(ctx, r, cc, key, src) }
	}
	return t
}

// pgSink builds the target of a PostgreSQL sink.
func pgSink(key, name string, sink *config.PostgresSink) target {
	t, cc := pgTarget(key, "sink "+name, sink.DSN, sink.Password)
	if cc != nil {
		t.run = func(ctx context.Context, r *Result) { checkPGSink(ctx, r, cc, key) }
	}
	return t
}

// pgConnect connects, or records why it could not and returns nil.
func pgConnect(ctx context.Context, r *Result, cc *pgx.ConnConfig, key string) *pgx.Conn {
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cc)
	if err != nil {
		r.Problems = append(r.Problems, pgConnectProblem(err, r.Addr, cc.User, cc.Database, key, false))
		return nil
	}
	return conn
}

// pgClose closes conn without waiting long for a server that went away.
func pgClose(conn interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx) // the checks are done; a failed goodbye changes nothing
}

// pgConnectProblem classifies a failed connection by SQLSTATE, then as a
// network failure. Server messages never contain the password.
// repl is true for a replication connection.
func pgConnectProblem(err error, addr, user, db, key string, repl bool) Problem {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01": // invalid_password
			return Problem{AuthFailed, fmt.Sprintf("password authentication failed for user %q: check the user and password in %s (dsn, password or password_file)", user, key)}
		case "28000": // invalid_authorization_specification
			return Problem{AuthFailed, fmt.Sprintf("the server refused the login of user %q (%s): allow it (ALTER ROLE %s LOGIN; a pg_hba.conf entry for this host and database) or fix the user in %s",
				user, pgErr.Message, pgx.Identifier{user}.Sanitize(), key)}
		case "3D000": // invalid_catalog_name
			return Problem{NotFound, fmt.Sprintf("database %q does not exist: create it (CREATE DATABASE %s) or fix the database in %s.dsn",
				db, pgx.Identifier{db}.Sanitize(), key)}
		case "53300": // too_many_connections
			return Problem{Setting, fmt.Sprintf("the server has no free connection (%s): raise max_connections (or max_wal_senders for replication connections) and restart, or close idle sessions", pgErr.Message)}
		case "57P03": // cannot_connect_now
			return Problem{Unreachable, fmt.Sprintf("the server at %s does not accept connections now (%s): wait for it to finish starting or recovering", addr, pgErr.Message)}
		case "42501": // insufficient_privilege
			if repl {
				return Problem{Privilege, fmt.Sprintf("user %q may not open a replication connection (%s): ALTER ROLE %s WITH REPLICATION",
					user, pgErr.Message, pgx.Identifier{user}.Sanitize())}
			}
			return Problem{Privilege, fmt.Sprintf("user %q may not connect to database %q (%s): GRANT CONNECT ON DATABASE %s TO %s",
				user, db, pgErr.Message, pgx.Identifier{db}.Sanitize(), pgx.Identifier{user}.Sanitize())}
		}
		return Problem{Other, fmt.Sprintf("the server refused the connection: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)}
	}
	if p, ok := netProblem(err, addr, key+".dsn"); ok {
		return p
	}
	// TLS and protocol failures. pgx's text names user and database, never
	// the password; Check scrubs secrets from every message anyway.
	return Problem{Other, fmt.Sprintf("cannot connect to %s: %v: check sslmode and the server's TLS setup in %s.dsn", addr, err, key)}
}

// pgQueryProblem records a failed query after a successful connect.
func pgQueryProblem(r *Result, what string, err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		r.problem(Other, "%s failed: %s (SQLSTATE %s)", what, pgErr.Message, pgErr.Code)
		return
	}
	if p, ok := netProblem(err, r.Addr, "the config"); ok {
		r.problem(p.Code, "%s failed: %s", what, p.Msg)
		return
	}
	r.problem(Other, "%s failed: %v", what, err)
}

// shortVersion keeps "15.4" of "15.4 (Debian 15.4-1)".
func shortVersion(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return v
}

func checkPGSource(ctx context.Context, r *Result, cc *pgx.ConnConfig, key string, src *config.PostgresSource) {
	conn := pgConnect(ctx, r, cc, key)
	if conn == nil {
		return
	}
	defer pgClose(conn)

	var (
		versionNum                 int
		version, walLevel          string
		slots, senders             int
		replication, super         bool
		user, db                   string
		usedSlots                  int
		slotPlugin, slotDB, slotTy *string
	)
	err := conn.QueryRow(ctx, `
		SELECT current_setting('server_version_num')::int, current_setting('server_version'),
		       current_setting('wal_level'),
		       current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
		       coalesce(r.rolreplication, false), coalesce(r.rolsuper, false),
		       current_user::text, current_database()::text
		FROM (SELECT 1) AS one LEFT JOIN pg_roles r ON r.rolname = current_user`).
		Scan(&versionNum, &version, &walLevel, &slots, &senders, &replication, &super, &user, &db)
	if err != nil {
		pgQueryProblem(r, "reading the server settings", err)
		return
	}
	r.fact("PostgreSQL %s", shortVersion(version))
	if versionNum < pgMinVersion {
		r.problem(Version, "PostgreSQL %s has no pgoutput logical decoding: upgrade the server to PostgreSQL 10 or later", shortVersion(version))
	}
	if walLevel != "logical" {
		r.problem(Setting, "wal_level is %s, need logical: set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server", walLevel)
	} else {
		r.fact("wal_level=logical")
	}
	if slots == 0 {
		r.problem(Setting, "max_replication_slots is 0, need at least 1 free slot: set max_replication_slots = 10 in postgresql.conf and restart the server")
	} else {
		r.fact("max_replication_slots=%d", slots)
	}
	if senders == 0 {
		r.problem(Setting, "max_wal_senders is 0, need at least 1: set max_wal_senders = 10 in postgresql.conf and restart the server")
	} else {
		r.fact("max_wal_senders=%d", senders)
	}
	switch {
	case super:
		r.fact("role %s is superuser", user)
	case replication:
		r.fact("role %s has REPLICATION", user)
	default:
		r.problem(Privilege, "role %q has neither REPLICATION nor SUPERUSER, so it cannot stream changes: ALTER ROLE %s WITH REPLICATION",
			user, pgx.Identifier{user}.Sanitize())
	}

	// Incremental snapshots write their watermarks with
	// pg_logical_emit_message.
	var emit bool
	if err := conn.QueryRow(ctx, `SELECT has_function_privilege(current_user, 'pg_logical_emit_message(boolean, text, text)', 'EXECUTE')`).Scan(&emit); err == nil {
		if emit {
			r.fact("incremental snapshots: %s may write watermarks (pg_logical_emit_message)", user)
		} else {
			r.note("incremental snapshots (walship snapshot, signal_table, tables added to tables:) need pg_logical_emit_message, which %s may not run: GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO %s",
				user, pgx.Identifier{user}.Sanitize())
		}
	}

	err = conn.QueryRow(ctx, `
		SELECT (SELECT count(*)::int FROM pg_replication_slots), s.plugin::text, s.database::text, s.slot_type
		FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`, src.Slot).
		Scan(&usedSlots, &slotPlugin, &slotDB, &slotTy)
	if err != nil {
		pgQueryProblem(r, "reading pg_replication_slots", err)
		return
	}
	switch {
	case slotTy != nil && (*slotTy != "logical" || slotPlugin == nil || *slotPlugin != "pgoutput"):
		r.problem(Config, "replication slot %s exists but is not a logical pgoutput slot: drop it (SELECT pg_drop_replication_slot('%s')) or set another %s.slot",
			src.Slot, src.Slot, key)
	case slotTy != nil && slotDB != nil && *slotDB != db:
		r.problem(Config, "replication slot %s belongs to database %s, not %s: connect to %s in %s.dsn or set another %s.slot",
			src.Slot, *slotDB, db, *slotDB, key, key)
	case slotTy != nil:
		r.fact("slot %s exists (pgoutput)", src.Slot)
	case slots > 0 && usedSlots >= slots:
		r.problem(Setting, "all %d replication slots are in use and walship needs one more for slot %s: drop an unused slot (pg_drop_replication_slot) or raise max_replication_slots and restart",
			slots, src.Slot)
	case slots > 0:
		r.fact("slot %s will be created (%d of %d slots in use)", src.Slot, usedSlots, slots)
	}

	pgEncoding(ctx, r, conn)
	pgUnmatchedPatterns(ctx, r, conn, key, src)
	pgReplicaIdentity(ctx, r, conn, src)
	pgUnlogged(ctx, r, conn, src)
	pgRewriteTrigger(ctx, r, conn, super)
	pgFailover(ctx, r, conn, versionNum, src)
	checkPGTables(ctx, r, conn, versionNum, version, key, src)

	if len(r.Problems) == 0 {
		pgReplicationProbe(ctx, r, cc, key)
	}
}

// pgReplicationProbe opens the kind of connection walship streams over
// (replication=database) and runs IDENTIFY_SYSTEM, which proves the role,
// pg_hba.conf and max_wal_senders together.
func pgReplicationProbe(ctx context.Context, r *Result, cc *pgx.ConnConfig, key string) {
	rc := cc.Config.Copy()
	if rc.RuntimeParams == nil {
		rc.RuntimeParams = map[string]string{}
	}
	rc.RuntimeParams["replication"] = "database"
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	pc, err := pgconn.ConnectConfig(cctx, rc)
	if err != nil {
		p := pgConnectProblem(err, r.Addr, rc.User, rc.Database, key, true)
		p.Msg = "a replication connection (what walship streams over) failed: " + p.Msg
		r.Problems = append(r.Problems, p)
		return
	}
	defer pgClose(pc)
	res, err := pc.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
	if err != nil {
		pgQueryProblem(r, "IDENTIFY_SYSTEM on a replication connection", err)
		return
	}
	if len(res) == 1 && len(res[0].Rows) == 1 && len(res[0].Rows[0]) >= 2 {
		r.fact("replication connection ok (timeline %s)", res[0].Rows[0][1])
		return
	}
	r.fact("replication connection ok")
}

func checkPGSink(ctx context.Context, r *Result, cc *pgx.ConnConfig, key string) {
	conn := pgConnect(ctx, r, cc, key)
	if conn == nil {
		return
	}
	defer pgClose(conn)

	var (
		version, user, db string
		dbCreate, standby bool
		schemaCreate      *bool
	)
	err := conn.QueryRow(ctx, `
		SELECT current_setting('server_version'), current_user::text, current_database()::text,
		       has_database_privilege(current_database(), 'CREATE'),
		       (SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE nspname = 'public'),
		       pg_is_in_recovery()`).
		Scan(&version, &user, &db, &dbCreate, &schemaCreate, &standby)
	if err != nil {
		pgQueryProblem(r, "reading the server's privileges", err)
		return
	}
	r.fact("PostgreSQL %s", shortVersion(version))
	if standby {
		r.problem(Setting, "the server is a read-only standby (pg_is_in_recovery() is true): point %s.dsn at the primary", key)
	}
	uid := pgx.Identifier{user}.Sanitize()
	if dbCreate {
		r.fact("user %s may create schemas in database %s", user, db)
	} else {
		r.problem(Privilege, "user %q cannot create schemas in database %q: GRANT CREATE ON DATABASE %s TO %s",
			user, db, pgx.Identifier{db}.Sanitize(), uid)
	}
	switch {
	case schemaCreate == nil:
		r.problem(NotFound, "schema public does not exist in database %q: CREATE SCHEMA public AUTHORIZATION %s", db, uid)
	case *schemaCreate:
		r.fact("user %s may create tables in schema public", user)
	default:
		r.problem(Privilege, "user %q cannot create tables in schema public of database %q: GRANT CREATE ON SCHEMA public TO %s (PostgreSQL 15 and later no longer grant it to every user)",
			user, db, uid)
	}
}
