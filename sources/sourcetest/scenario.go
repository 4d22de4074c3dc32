package sourcetest

import (
	"testing"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/offsets"
)

// Source is the part of an engine's harness the shared scenarios
// ([SnapshotJoinsStream], [RestartResumes]) drive.
type Source interface {
	// StartChunked starts the source with the harness's configuration,
	// reading the snapshot in chunks of rows rows (0: the default), and
	// waits until it streams.
	StartChunked(rows int)
	Stop()
	// Exec runs a statement on the test database.
	Exec(sql string, args ...any)
	// CaughtUp waits until the source acknowledged all that was written.
	CaughtUp()
	Read() *logread.Log
	// Converged folds l and compares it with the live tables.
	Converged(l *logread.Log, tables ...string)
}

// RestartResumes: a stop and a restart lose and repeat nothing. The test
// database has a table t (id int PRIMARY KEY, v int), named table in the
// log; fill inserts ids 1 to 100 with v 0.
func RestartResumes(t *testing.T, s Source, table, fill string) {
	t.Helper()
	s.StartChunked(0)
	s.Exec(fill)
	s.CaughtUp()
	s.Stop()
	s.Exec("UPDATE t SET v = 1 WHERE id <= 50")
	s.Exec("DELETE FROM t WHERE id > 90")
	s.StartChunked(0)
	s.Exec("INSERT INTO t VALUES (1000, 7)")
	s.CaughtUp()
	l := s.Read()
	s.Converged(l, table)
	seen := map[offsets.Seq]bool{}
	for _, txn := range l.Txns {
		if seen[txn.End.Seq] {
			t.Errorf("transaction %s written twice after a clean restart", txn.End.Seq)
		}
		seen[txn.End.Seq] = true
	}
}
