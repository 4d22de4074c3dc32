package postgres

import (
	"io"
	"log/slog"
	"testing"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/sinks/sinktest"
	"github.com/walship/walship/sinks/sqlsink"
)

// TestIntegrationLegacyPositions (issue 28): a PostgreSQL follower written
// by a version that kept walship_positions and walship_applied in public.
// On start the sink's rows move to the schema walship in one transaction
// and it resumes where it was; the old tables, emptied, are dropped, and a
// source table may then take their name.
func TestIntegrationLegacyPositions(t *testing.T) {
	d, db, ctx := follower(t)
	sinktest.Exec(t, ctx, db,
		`CREATE TABLE walship_positions (sink text COLLATE "C" NOT NULL, source text COLLATE "C" NOT NULL, seq text COLLATE "C" NOT NULL, position text, commit_ts text, offsets text, applied_at text, PRIMARY KEY (sink, source))`,
		`CREATE TABLE walship_applied (sink text COLLATE "C" NOT NULL, source text COLLATE "C" NOT NULL, seq text COLLATE "C" NOT NULL, position text, commit_ts text, PRIMARY KEY (sink, source, seq))`,
		`INSERT INTO walship_positions VALUES ('pgf', 'src', '0000000000000000.00000005', 'postgres:lsn=0/5', '', '{"whole":true}', 'x')`,
		`INSERT INTO walship_applied VALUES ('pgf', 'src', '0000000000000000.00000009', 'postgres:lsn=0/9', '')`)
	a := sqlsink.New(sqlsink.Config{Sink: "pgf", SourceEngines: map[string]string{"src": "postgres"}}, d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, release, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer release()
	if s := st["src"]; s.Watermark.Seq.String() != "0000000000000000.00000005" || len(s.Above) != 1 || !s.Offsets.Whole {
		t.Errorf("state after the move: %+v", s)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND tablename LIKE 'walship\_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("old tables left: %d %v", left, err)
	}
	var moved int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM walship.positions) + (SELECT count(*) FROM walship.applied)`).Scan(&moved); err != nil || moved != 2 {
		t.Errorf("rows in walship.*: %d %v", moved, err)
	}
	tbl := &ordering.Table{Schema: "public", Name: "walship_positions", PrimaryKey: []string{"id"},
		Columns: []ordering.Column{{Name: "id", Kind: ordering.KindInt, Type: "bigint"}}}
	if err := a.EnsureSchema(ctx, "src", []*ordering.Table{tbl}); err != nil {
		t.Errorf("a source table named walship_positions: %v", err)
	}
}
