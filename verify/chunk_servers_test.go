package verify

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
)

// chunkFixture is a PostgreSQL and a MariaDB source database and
// PostgreSQL, MariaDB and SQLite followers, loaded directly (no pipeline)
// with the same rows.
type chunkFixture struct {
	t                  *testing.T
	name               string
	pgSrc, pgFol       string // DSNs of the fresh databases
	mySrcAddr, myFol   string
	litePath           string
	pgS, pgF, myS, myF *sql.DB
	lite               *sql.DB
	srcCfg, myCfg      config.Source
	pgSink, mySink     config.Sink
}

// t1 is keyed by (text, bigint) with values around 2^53; t2 by (bytes,
// decimal). Keys in byte order: B < Z < a < "a b" < zz < é.
var (
	t1Keys = []string{"B", "Z", "a", "a b", "zz", "é"}
	t1Ns   = []int64{-5, 1, 2, 9007199254740992, 9007199254740993}
	t2Bs   = [][]byte{{}, {0x00}, {0x0a}, {0xff}}
	t2Ds   = []string{"-1.50", "0.00", "2.25", "99999.99"}
)

func newChunkFixture(t *testing.T) *chunkFixture {
	testenv.Integration(t)
	f := &chunkFixture{t: t, name: fmt.Sprintf("walship_vchunk_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)}
	pgSrc, pgFol := testenv.PGSource(t), testenv.PGFollower(t)
	mySrc, myFol := testenv.MySQLSource(t), testenv.MySQLFollower(t)
	for _, s := range []struct{ driver, dsn, drop string }{
		{"pgx", pgSrc, " WITH (FORCE)"}, {"pgx", pgFol, " WITH (FORCE)"}, {"mysql", mySrc, ""}, {"mysql", myFol, ""},
	} {
		root := f.open(s.driver, s.dsn)
		f.exec(root, "CREATE DATABASE "+f.name)
		t.Cleanup(func() { root.Exec("DROP DATABASE IF EXISTS " + f.name + s.drop) })
	}
	f.pgSrc = strings.Replace(pgSrc, "/postgres?", "/"+f.name+"?", 1)
	f.pgFol = strings.Replace(pgFol, "/postgres?", "/"+f.name+"?", 1)
	f.mySrcAddr = mySrc[strings.Index(mySrc, "(")+1 : strings.Index(mySrc, ")")]
	f.myFol = myFol + f.name
	f.litePath = filepath.Join(t.TempDir(), "f.db")
	f.pgS, f.pgF = f.open("pgx", f.pgSrc), f.open("pgx", f.pgFol)
	f.myS, f.myF = f.open("mysql", mySrc+f.name), f.open("mysql", f.myFol)
	f.lite = f.open("sqlite3", f.litePath)

	pgT1 := `(k text, n bigint, v text, PRIMARY KEY (k, n))`
	pgT2 := `(b bytea, d numeric(12,2), v text, PRIMARY KEY (b, d))`
	myT1 := "(k varchar(20) COLLATE utf8mb4_bin, n bigint, v text, PRIMARY KEY (k, n))"
	myT2 := "(b varbinary(4), d decimal(12,2), v text, PRIMARY KEY (b, d))"
	for _, db := range []*sql.DB{f.pgS, f.pgF} {
		f.exec(db, "CREATE TABLE public.t1 "+pgT1)
		f.exec(db, "CREATE TABLE public.t2 "+pgT2)
	}
	f.exec(f.pgF, "CREATE SCHEMA "+f.name)
	f.exec(f.pgF, "CREATE TABLE "+f.name+".t1 "+pgT1)
	for _, db := range []*sql.DB{f.myS, f.myF} {
		f.exec(db, "CREATE TABLE t1 "+myT1)
		f.exec(db, "CREATE TABLE t2 "+myT2)
	}
	f.exec(f.lite, "CREATE TABLE t1 (k TEXT, n INTEGER, v TEXT, PRIMARY KEY (k, n))")

	for _, tbl := range []struct {
		db  *sql.DB
		ins string
	}{{f.pgS, "INSERT INTO public.t1 VALUES ($1, $2, $3)"}, {f.pgF, "INSERT INTO public.t1 VALUES ($1, $2, $3)"},
		{f.pgF, "INSERT INTO " + f.name + ".t1 VALUES ($1, $2, $3)"},
		{f.myS, "INSERT INTO t1 VALUES (?, ?, ?)"}, {f.myF, "INSERT INTO t1 VALUES (?, ?, ?)"}, {f.lite, "INSERT INTO t1 VALUES (?, ?, ?)"}} {
		for _, k := range t1Keys {
			for _, n := range t1Ns {
				f.exec(tbl.db, tbl.ins, k, n, fmt.Sprintf("v %s %d", k, n))
			}
		}
	}
	for _, tbl := range []struct {
		db  *sql.DB
		ins string
	}{{f.pgS, "INSERT INTO public.t2 VALUES ($1, $2, $3)"}, {f.pgF, "INSERT INTO public.t2 VALUES ($1, $2, $3)"},
		{f.myS, "INSERT INTO t2 VALUES (?, ?, ?)"}, {f.myF, "INSERT INTO t2 VALUES (?, ?, ?)"}} {
		for _, b := range t2Bs {
			for _, d := range t2Ds {
				f.exec(tbl.db, tbl.ins, b, d, "w")
			}
		}
	}
	f.srcCfg = config.Source{Name: "pg", Postgres: &config.PostgresSource{DSN: config.Secret(f.pgSrc), Tables: []string{"public.*"}}}
	f.myCfg = config.Source{Name: "my", MySQL: &config.MySQLSource{Addr: f.mySrcAddr, User: "root", Flavor: "mariadb", Tables: []string{f.name + ".*"}}}
	f.pgSink = config.Sink{Name: "pgf", Postgres: &config.PostgresSink{DSN: config.Secret(f.pgFol)}}
	f.mySink = config.Sink{Name: "myf", MySQL: &config.MySQLSink{DSN: config.Secret(f.myFol)}}
	return f
}

func (f *chunkFixture) open(driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	return db
}

func (f *chunkFixture) exec(db *sql.DB, q string, args ...any) {
	f.t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// compare compares the tables of source sc with sink sk in chunks of 4.
func (f *chunkFixture) compare(sc config.Source, sk config.Sink) map[string]TableReport {
	f.t.Helper()
	ctx := context.Background()
	src, err := openSource(ctx, sc)
	if err != nil {
		f.t.Fatal(err)
	}
	defer src.db.Close()
	fol, err := openFollower(ctx, sk)
	if err != nil {
		f.t.Fatal(err)
	}
	defer fol.db.Close()
	tables, err := src.listTables(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]TableReport{}
	for _, t := range tables {
		if t.Name != "t1" && t.Name != "t2" {
			continue
		}
		name := followerName(fol.dialect, config.TableMapping{}, t.Schema, t.Name)
		tr := TableReport{Table: t.String()}
		if err := compareTable(ctx, src, fol, t, name, &tr, Options{ChunkRows: 4, MaxListed: 100}, nil); err != nil {
			tr.Problem = err.Error()
		}
		out[t.Name] = tr
	}
	return out
}

func diffKeys(tr TableReport) string {
	var parts []string
	for _, d := range tr.Diffs {
		parts = append(parts, d.Kind+" "+d.Key)
	}
	return strings.Join(parts, "; ")
}

// TestChunkBoundsOnServers: composite text, bytes and decimal keys and
// integers past 2^53 chunk and compare on every engine pair: equal
// first; then a row before the first key, a different row in a middle
// chunk, a missing row and a row past the last key are named, and only
// their chunks differ.
func TestChunkBoundsOnServers(t *testing.T) {
	f := newChunkFixture(t)
	sqliteSink := config.Sink{Name: "lite", SQLite: &config.SQLiteSink{Path: f.litePath}}
	pairs := []struct {
		name   string
		src    config.Source
		sink   config.Sink
		tables int
	}{
		{"postgres → postgres", f.srcCfg, f.pgSink, 2},
		{"mariadb → mariadb", f.myCfg, f.mySink, 2},
		{"postgres → mariadb", f.srcCfg, f.mySink, 1},
		{"postgres → sqlite", f.srcCfg, sqliteSink, 1},
		{"mariadb → postgres", f.myCfg, f.pgSink, 1},
	}
	for _, p := range pairs {
		reps := f.compare(p.src, p.sink)
		if t1 := reps["t1"]; !t1.Equal() || t1.Chunks != 8 || t1.ChunksDiffered != 0 || t1.SourceRows != 30 || t1.FollowerRows != 30 {
			t.Errorf("%s: t1 before changes: %+v", p.name, t1)
		}
		if p.tables == 2 {
			if t2 := reps["t2"]; !t2.Equal() || t2.Chunks != 4 || t2.ChunksDiffered != 0 || t2.SourceRows != 16 {
				t.Errorf("%s: t2 before changes: %+v", p.name, t2)
			}
		}
	}
	for _, c := range []struct {
		db  *sql.DB
		t1  string
		ph  func(string) string
		two bool
	}{
		{f.pgF, "public.t1", pgPlaceholders, true}, {f.pgF, f.name + ".t1", pgPlaceholders, false},
		{f.myF, "t1", noPlaceholders, true}, {f.lite, "t1", noPlaceholders, false},
	} {
		f.exec(c.db, c.ph("INSERT INTO "+c.t1+" VALUES (?, ?, ?)"), "A", 1, "before the first key")
		f.exec(c.db, c.ph("INSERT INTO "+c.t1+" VALUES (?, ?, ?)"), "ü", 5, "past the last key")
		f.exec(c.db, c.ph("UPDATE "+c.t1+" SET v = 'changed' WHERE k = ? AND n = ?"), "Z", int64(9007199254740993))
		f.exec(c.db, c.ph("DELETE FROM "+c.t1+" WHERE k = ? AND n = ?"), "a b", 2)
		if c.two {
			t2 := strings.Replace(c.t1, "t1", "t2", 1)
			f.exec(c.db, c.ph("UPDATE "+t2+" SET v = 'changed' WHERE b = ? AND d = 2.25"), []byte{0x0a})
			f.exec(c.db, c.ph("DELETE FROM "+t2+" WHERE b = ? AND d = -1.5"), []byte{0xff})
		}
	}
	for _, p := range pairs {
		reps := f.compare(p.src, p.sink)
		t1 := reps["t1"]
		t.Logf("%s: t1 %s (chunks %d, %d differed); t2 %s (chunks %d, %d differed)", p.name, diffKeys(t1), t1.Chunks, t1.ChunksDiffered,
			diffKeys(reps["t2"]), reps["t2"].Chunks, reps["t2"].ChunksDiffered)
		want := "extra k=A, n=1; different k=Z, n=9007199254740993; missing k=a b, n=2; extra k=ü, n=5"
		if got := diffKeys(t1); got != want || t1.Chunks != 8 || t1.ChunksDiffered != 4 || t1.Problem != "" {
			t.Errorf("%s: t1: %s (chunks %d, %d differed; %s), want %s (chunks 8, 4 differed)",
				p.name, got, t1.Chunks, t1.ChunksDiffered, t1.Problem, want)
		}
		if p.tables == 2 {
			t2 := reps["t2"]
			want := "different b=0a, d=2.25; missing b=ff, d=-1.50"
			if got := diffKeys(t2); got != want || t2.Chunks != 4 || t2.ChunksDiffered != 2 || t2.Problem != "" {
				t.Errorf("%s: t2: %s (chunks %d, %d differed; %s), want %s (chunks 4, 2 differed)",
					p.name, got, t2.Chunks, t2.ChunksDiffered, t2.Problem, want)
			}
		}
	}
}

func noPlaceholders(q string) string { return q }

// pgPlaceholders numbers the ? of q as $1, $2, ...
func pgPlaceholders(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
