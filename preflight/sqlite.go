package preflight

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/walship/walship/config"
)

// sqliteTimeout bounds a SQLite check: quick_check reads the whole file.
const sqliteTimeout = 30 * time.Second

// sqliteSink builds the target of a SQLite sink.
func sqliteSink(key, name string, s *config.SQLiteSink) target {
	return target{
		res:     Result{Target: "sink " + name, Engine: "sqlite", Addr: s.Path},
		timeout: sqliteTimeout,
		run:     func(ctx context.Context, r *Result) { checkSQLite(ctx, r, s.Path, key) },
	}
}

func checkSQLite(ctx context.Context, r *Result, path, key string) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.problem(NotFound, "directory %s does not exist: create it (mkdir -p %s) or fix %s.path", dir, dir, key)
		return
	case err != nil:
		r.problem(fsCode(err), "cannot read directory %s (%v): fix its permissions or %s.path", dir, errCause(err), key)
		return
	case !st.IsDir():
		r.problem(Config, "%s is not a directory: fix %s.path", dir, key)
		return
	}
	// Writing is the only reliable test (ACLs, read-only mounts, root).
	f, err := os.CreateTemp(dir, ".walship-preflight-*")
	if err != nil {
		r.problem(fsCode(err), "directory %s is not writable (%v); SQLite writes its journal next to the database: fix the directory's owner or mode, or %s.path", dir, errCause(err), key)
		return
	}
	name := f.Name()
	_ = f.Close() // empty file, removed next
	if err := os.Remove(name); err != nil {
		r.problem(fsCode(err), "cannot remove the test file %s (%v): fix the directory's permissions", name, errCause(err))
		return
	}
	r.fact("directory %s is writable", dir)

	st, err = os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.fact("%s does not exist yet: walship will create it", filepath.Base(path))
		return
	case err != nil:
		r.problem(fsCode(err), "cannot read %s (%v): fix its permissions or %s.path", path, errCause(err), key)
		return
	case st.IsDir():
		r.problem(Config, "%s is a directory, not a database file: fix %s.path", path, key)
		return
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		r.problem(fsCode(err), "%s is not writable (%v): fix the file's owner or mode", path, errCause(err))
		return
	}
	_ = w.Close() // opened only to prove it can be

	abs, err := filepath.Abs(path)
	if err != nil {
		r.problem(Other, "cannot make %s absolute: %v", path, err)
		return
	}
	// mode=rw: never create the file. query_only: never change it. Read-write
	// so that closing the last connection removes the -wal and -shm files a
	// WAL-mode database gets when opened (a read-only connection leaves them).
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=rw&_query_only=true"}).String()
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		r.problem(Other, "cannot open %s: %v", path, err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	lines, err := quickCheck(ctx, db)
	var serr sqlite3.Error
	switch {
	case errors.As(err, &serr) && serr.Code == sqlite3.ErrNotADB:
		r.problem(Config, "%s is not a SQLite database: fix %s.path", path, key)
	case errors.As(err, &serr) && serr.Code == sqlite3.ErrCorrupt:
		r.problem(Other, "%s is corrupt (%v): restore it from a backup or rebuild the follower", path, serr)
	case err != nil && ctx.Err() != nil:
		r.problem(Other, "PRAGMA quick_check on %s did not finish in time: run it by hand (sqlite3 %s 'PRAGMA quick_check')", path, path)
	case err != nil:
		r.problem(Other, "PRAGMA quick_check on %s failed: %v", path, err)
	case len(lines) == 1 && lines[0] == "ok":
		r.fact("PRAGMA quick_check: ok")
	default:
		r.problem(Other, "%s failed PRAGMA quick_check (%s): restore it from a backup or rebuild the follower", path, strings.Join(lines, "; "))
	}
}

// quickCheck runs PRAGMA quick_check and returns its rows.
func quickCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		lines = append(lines, s)
	}
	return lines, rows.Err()
}

// fsCode classifies a file system error.
func fsCode(err error) Code {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return Privilege
	case errors.Is(err, syscall.EROFS):
		return Setting
	case errors.Is(err, fs.ErrNotExist):
		return NotFound
	}
	return Other
}

// errCause drops the operation and path of a *fs.PathError, which the
// message already names.
func errCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
