package sinktest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// Context is a context that times out after d and is cancelled when the
// test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var dbSeq atomic.Int64

// Database creates a database walship_dialect_<pid>_<n> with exec (a
// session on the follower server with the right to create one) and drops
// it when the test ends, with dropOptions after the statement (for
// PostgreSQL " WITH (FORCE)"). It returns the database's name.
func Database(t testing.TB, ctx context.Context, exec func(ctx context.Context, stmt string) error, dropOptions string) string {
	t.Helper()
	name := fmt.Sprintf("walship_dialect_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), "DROP DATABASE IF EXISTS "+name+dropOptions); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
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
