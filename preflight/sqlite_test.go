package preflight

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/walship/walship/config"
)

// SQLite needs no server: these tests run against real files.

func sqliteConfig(path string) *config.Config {
	return &config.Config{Sinks: []config.Sink{{Name: "lite", SQLite: &config.SQLiteSink{Path: path}}}}
}

func TestSQLiteNewFile(t *testing.T) {
	dir := t.TempDir()
	res := only(t, runCheck(t, sqliteConfig(filepath.Join(dir, "lite.db"))))
	wantNoProblems(t, res)
	wantFact(t, res, "is writable")
	wantFact(t, res, "does not exist yet")
	if _, err := os.Stat(filepath.Join(dir, "lite.db")); !os.IsNotExist(err) {
		t.Errorf("the check created the database file (stat: %v)", err)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("the check left files behind: %v (%v)", left, err)
	}
}

func TestSQLiteExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lite.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	res := only(t, runCheck(t, sqliteConfig(path)))
	wantNoProblems(t, res)
	wantFact(t, res, "PRAGMA quick_check: ok")
	if res.Engine != "sqlite" || res.Addr != path {
		t.Errorf("engine %q addr %q", res.Engine, res.Addr)
	}
}

func TestSQLiteMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	res := only(t, runCheck(t, sqliteConfig(filepath.Join(dir, "lite.db"))))
	wantProblem(t, res, NotFound, "directory "+dir+" does not exist", "mkdir -p", "sinks[0].sqlite.path")
}

func TestSQLiteParentIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := only(t, runCheck(t, sqliteConfig(filepath.Join(file, "lite.db"))))
	wantProblem(t, res, Config, file+" is not a directory")
}

func TestSQLiteNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lite.db")
	if err := os.WriteFile(path, []byte("this is not a sqlite file, just some text that is long enough to have a header......."), 0o600); err != nil {
		t.Fatal(err)
	}
	res := only(t, runCheck(t, sqliteConfig(path)))
	wantProblem(t, res, Config, "is not a SQLite database")
}

func TestSQLitePathIsADirectory(t *testing.T) {
	path := t.TempDir()
	res := only(t, runCheck(t, sqliteConfig(path)))
	wantProblem(t, res, Config, "is a directory")
}

func TestSQLiteCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lite.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO t (v) SELECT printf('%0100d', i) FROM n;`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = 0xA5
	}
	if _, err := f.WriteAt(garbage, 3*4096); err != nil { // a b-tree page, not the header
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res := only(t, runCheck(t, sqliteConfig(path)))
	wantProblem(t, res, Other, path, "restore it from a backup")
}

// A WAL-mode file is checked without leaving -wal and -shm files behind.
func TestSQLiteWALFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lite.db")
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := only(t, runCheck(t, sqliteConfig(path)))
	wantNoProblems(t, res)
	wantFact(t, res, "PRAGMA quick_check: ok")
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("files before %v, after %v", before, after)
	}
}
