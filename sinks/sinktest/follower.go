package sinktest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// Context is a context that times out after d and is cancelled when the
// test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var dbSeq atomic.Int64

// Follower creates a database walship_dialect_<pid>_<n> of the test's own
// on the follower server at dsn (of database/sql driver "mysql" or "pgx",
// from internal/testenv) and drops it when the test ends. It returns a
// context that ends with the test, within 2 minutes, and the DSN of the
// database.
func Follower(t testing.TB, driver, dsn string) (context.Context, string) {
	t.Helper()
	ctx := Context(t, 2*time.Minute)
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open the follower: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("walship_dialect_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+dropOptions[driver]); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	if dsn, err = withDatabase[driver](dsn, name); err != nil {
		t.Fatalf("follower DSN: %v", err)
	}
	return ctx, dsn
}

// MySQLSink is the config of a MySQL sink on a database of the test's own
// on the MySQL follower server of internal/testenv ([Follower]).
func MySQLSink(t testing.TB) (context.Context, config.MySQLSink) {
	t.Helper()
	ctx, dsn := Follower(t, "mysql", testenv.MySQLFollower(t))
	return ctx, config.MySQLSink{DSN: config.Secret(dsn)}
}

// PostgresSink is the config of a PostgreSQL sink on a database of the
// test's own on the PostgreSQL follower server of internal/testenv
// ([Follower]).
func PostgresSink(t testing.TB) (context.Context, config.PostgresSink) {
	t.Helper()
	ctx, dsn := Follower(t, "pgx", testenv.PGFollower(t))
	return ctx, config.PostgresSink{DSN: config.Secret(dsn)}
}

// dropOptions follow DROP DATABASE, by driver: PostgreSQL's ends the
// sessions still on it.
var dropOptions = map[string]string{"pgx": " WITH (FORCE)"}

// withDatabase is dsn naming database name instead, by driver.
var withDatabase = map[string]func(dsn, name string) (string, error){
	"mysql": func(dsn, name string) (string, error) {
		mc, err := mysql.ParseDSN(dsn)
		if err == nil {
			mc.DBName = name
			dsn = mc.FormatDSN()
		}
		return dsn, err
	},
	"pgx": func(dsn, name string) (string, error) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("not a URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	},
}

// Opener is the part of a dialect that opens its pool.
type Opener interface {
	Open(ctx context.Context) (*sql.DB, error)
}

// Open opens d's pool and closes it when the test ends.
func Open(t testing.TB, ctx context.Context, d Opener) *sql.DB {
	t.Helper()
	db, err := d.Open(ctx)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs each statement on db and stops the test at the first that
// fails.
func Exec(t testing.TB, ctx context.Context, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
