package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/walship/walship/sources"
	"iter"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources/sourcetest"
	"github.com/walship/walship/supervise"
)

// TestSnapshotJoinsStream: writes race the snapshot; the snapshot plus the
// stream converge with the source, with no key snapshotted twice and no
// streamed transaction from before the consistent point.
func TestSnapshotJoinsStream(t *testing.T) {
	h := newHarness(t, `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, v int NOT NULL DEFAULT 0);
		INSERT INTO accounts SELECT g, 100, 0 FROM generate_series(1, 30000) g;`)
	l, seen := sourcetest.SnapshotJoinsStream(t, h, "public.accounts", 3, func(ctx context.Context, committed func()) {
		conn, err := pgx.Connect(context.Background(), h.dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			a, b := rand.IntN(40000)+1, rand.IntN(30000)+1
			// Move money, insert new accounts past the snapshot range, delete some.
			batch := &pgx.Batch{}
			batch.Queue("UPDATE accounts SET balance = balance - 1, v = v + 1 WHERE id = $1", b)
			batch.Queue("INSERT INTO accounts VALUES ($1, 1, 0) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1, v = accounts.v + 1", a)
			if a%17 == 0 {
				batch.Queue("DELETE FROM accounts WHERE id = $1", a)
			}
			if err := conn.SendBatch(context.Background(), batch).Close(); err == nil {
				committed()
			}
		}
	})
	var point uint64
	for _, txn := range l.Txns {
		if txn.End.Snapshot {
			point = txn.End.Seq.Pos
			continue
		}
		if txn.End.Seq.Pos < point {
			t.Fatalf("streamed transaction %s before the consistent point %X", txn.End.Seq, point)
		}
	}
	if len(seen) < 29000 {
		t.Errorf("snapshot has %d rows", len(seen))
	}
}

// TestDDLMidStream: rows before and after ADD COLUMN and DROP COLUMN decode
// with their own shape.
func TestDDLMidStream(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, a text);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1, 'one')")
	h.Exec("ALTER TABLE t ADD COLUMN b numeric(6,2) DEFAULT 1.5")
	h.Exec("INSERT INTO t VALUES (2, 'two', 2.25)")
	h.Exec("UPDATE t SET a = 'uno' WHERE id = 1")
	h.Exec("ALTER TABLE t DROP COLUMN a")
	h.Exec("INSERT INTO t VALUES (3, 3.75)")
	h.Exec("ALTER TABLE t ALTER COLUMN b TYPE text")
	h.Exec("INSERT INTO t VALUES (4, 'four')")
	h.CaughtUp()
	l := h.Read()
	var shapes, values []string
	for _, txn := range l.Txns {
		for _, e := range txn.Events {
			var cols, vals string
			for i, c := range e.Change.Table.Columns {
				cols += c.Name + ":" + c.Kind.String() + " "
				vals += c.Name + "=" + e.Change.After[i].String() + " "
			}
			shapes = append(shapes, cols)
			values = append(values, vals)
		}
	}
	want := []string{"id:int a:string ", "id:int a:string b:decimal ", "id:int a:string b:decimal ", "id:int b:decimal ", "id:int b:string "}
	if len(shapes) != len(want) {
		t.Fatalf("shapes %q", shapes)
	}
	for i := range want {
		if shapes[i] != want[i] {
			t.Errorf("event %d shape %q, want %q", i, shapes[i], want[i])
		}
	}
	wantValues := []string{"id=1 a=one ", "id=2 a=two b=2.25 ", "id=1 a=uno b=1.50 ", "id=3 b=3.75 ", "id=4 b=four "}
	for i := range wantValues {
		if values[i] != wantValues[i] {
			t.Errorf("event %d values %q, want %q", i, values[i], wantValues[i])
		}
	}
}

// TestRestartResumes: a graceful stop and a restart lose and repeat
// nothing; the checkpoint drops what was durable before.
func TestRestartResumes(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY, v int);`)
	sourcetest.RestartResumes(t, h, "public.t", "INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g")
}

// TestSlotDroppedStops: a slot dropped under walship stops the source with
// ErrSlotLost, permanently; it is never recreated silently.
func TestSlotDroppedStops(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1)")
	h.CaughtUp()
	h.Stop()
	// The walsender may take a moment to notice the stop.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.admin.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", h.Name); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	err := h.runOnce(h.config())
	if !errors.Is(err, ErrSlotLost) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
	var n int
	h.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", h.Name).Scan(&n)
	if n != 0 {
		t.Error("the slot was recreated")
	}
}

// TestSlotBusy: a second consumer of the slot is refused with ErrSlotBusy.
func TestSlotBusy(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	h.start(h.config())
	waitStreaming(t, h)
	second := New(h.config(), func() (sources.Log, error) { return &nopLog{}, nil }, h.Store, h.src.log)
	err := second.Run(context.Background(), func() {})
	if !errors.Is(err, ErrSlotBusy) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	t.Logf("error: %v", err)
}

// TestHeartbeatAdvancesSlot: with writes only to a table outside the
// publication, the slot's confirmed_flush_lsn still moves.
func TestHeartbeatAdvancesSlot(t *testing.T) {
	h := newHarness(t, `CREATE TABLE captured (id int PRIMARY KEY); CREATE SCHEMA other; CREATE TABLE other.noise (id serial PRIMARY KEY, pad text);`)
	h.start(h.config())
	waitStreaming(t, h)
	ctx := context.Background()
	var before offsets.LSN
	h.admin.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", h.Name).Scan(&before)
	for i := 0; i < 20; i++ {
		h.Exec("INSERT INTO other.noise (pad) SELECT repeat('x', 1000) FROM generate_series(1, 100)")
	}
	var target offsets.LSN
	h.admin.QueryRow(ctx, "SELECT pg_current_wal_lsn()").Scan(&target)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var now offsets.LSN
		h.admin.QueryRow(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", h.Name).Scan(&now)
		if now >= target {
			t.Logf("confirmed_flush_lsn moved from %s to %s with no captured change", before, now)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("confirmed_flush_lsn stuck at %s, WAL at %s", now, target)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSyncDurability: with the slot listed in synchronous_standby_names, a
// COMMIT returns only once its change is durable in Kafka.
func TestSyncDurability(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	cfg := h.config()
	cfg.Sync = true
	h.start(cfg)
	waitStreaming(t, h)
	ctx := context.Background()
	h.Exec("ALTER SYSTEM SET synchronous_standby_names = " + quoteLiteral(h.Name))
	h.Exec("SELECT pg_reload_conf()")
	t.Cleanup(func() {
		c, _ := pgx.Connect(ctx, h.dsn)
		c.Exec(ctx, "ALTER SYSTEM RESET synchronous_standby_names")
		c.Exec(ctx, "SELECT pg_reload_conf()")
		c.Close(ctx)
	})
	// Wait until the server treats us as synchronous.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var state string
		h.admin.QueryRow(ctx, "SELECT coalesce(max(sync_state), '') FROM pg_stat_replication WHERE application_name = $1", h.Name).Scan(&state)
		if state == "sync" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("walship never became a synchronous standby (sync_state %q)", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 1; i <= 5; i++ {
		h.Exec("INSERT INTO t VALUES ($1)", i)
		// COMMIT has returned: the row must already be durable in Kafka.
		l := h.Read()
		found := false
		for _, txn := range l.Txns {
			for _, e := range txn.Events {
				if e.Change.Op == ordering.OpInsert && e.Change.After[0].Int() == int64(i) {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("insert %d committed but is not in Kafka", i)
		}
	}
}

// runOnce runs a fresh source once and returns its error.
func (h *harness) runOnce(cfg Config) error {
	src := New(cfg, func() (sources.Log, error) { return &nopLog{}, nil }, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return src.Run(ctx, func() {})
}

// nopLog is a Log for runs that must fail before publishing anything.
type nopLog struct{}

func (*nopLog) Publish(context.Context, *ordering.Txn, int, iter.Seq2[*ordering.Change, error]) error {
	return errors.New("nopLog: nothing may be published")
}
func (*nopLog) Durable() (offsets.Seq, offsets.Position) { return offsets.Seq{}, offsets.Position{} }
func (*nopLog) Notify() <-chan struct{}                  { return nil }
func (*nopLog) Err() error                               { return nil }
func (*nopLog) Pending() int                             { return 0 }
func (*nopLog) Close(context.Context) error              { return nil }
func (*nopLog) Heartbeat(context.Context, string, offsets.Position, time.Time) (bool, error) {
	return false, nil
}

// TestSnapshotRedoneAfterStopMidway: a source stopped in the middle of its
// snapshot redoes it with a new slot on the next start, each table's first
// chunk starting with a truncate, so rows the unfinished attempt emitted
// and the source deleted since do not survive on followers.
func TestSnapshotRedoneAfterStopMidway(t *testing.T) {
	h := newHarness(t, `CREATE TABLE big (id int PRIMARY KEY, v text);
		INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g;`)
	cfg := h.config()
	cfg.SnapshotChunkRows = 500
	h.start(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for h.src.Status().SnapshotRows < 5000 {
		if time.Now().After(deadline) {
			t.Fatalf("snapshot did not progress: %+v", h.src.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.Stop()
	if st := h.src.Status(); st.State == "streaming" {
		t.Skip("the snapshot finished before the stop; nothing to redo")
	}
	h.Exec("DELETE FROM big WHERE id <= 1000") // rows the first attempt already sent
	h.Exec("UPDATE big SET v = 'changed' WHERE id % 7 = 0")
	h.start(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	l := h.Read()
	got := fold(t, l)
	converged(t, got, h.sourceState("public.big"))
	truncates := 0
	for _, txn := range l.Txns {
		for _, e := range txn.Events {
			if e.Change.Op == ordering.OpTruncate {
				truncates++
			}
		}
	}
	if truncates != 1 {
		t.Errorf("%d truncates in the log, want 1 (the redo's)", truncates)
	}
}

func (*nopLog) DurableHeartbeat() offsets.Position { return offsets.Position{} }
func (*nopLog) Resume(offsets.Seq)                 {}

// TestCatalogAsOfTheChange: the catalog holds only today's tables and
// types. A captured table dropped before walship decoded its changes
// still reaches the log with its key (the stream's replica identity) and
// runs serially; a column type dropped before then stops the source with
// ErrTypeGone, permanently, instead of restarting forever.
func TestCatalogAsOfTheChange(t *testing.T) {
	h := newHarness(t, `CREATE TYPE mood AS ENUM ('happy', 'sad');
		CREATE TABLE gone (id int PRIMARY KEY, v text);
		CREATE TABLE moods (id int PRIMARY KEY, m mood);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.CaughtUp()
	h.Stop()
	h.Exec("INSERT INTO gone VALUES (1, 'x'), (2, 'y')")
	h.Exec("UPDATE gone SET v = 'z' WHERE id = 2")
	h.Exec("DROP TABLE gone")
	h.start(h.config())
	h.CaughtUp()
	h.Stop()
	var got []string
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			if e.Change.Table.Name == "gone" {
				got = append(got, fmt.Sprintf("%s key=%v serial=%v", e.Change.Op, e.Change.Table.PrimaryKey, e.Change.Table.Serial))
			}
		}
	}
	if want := "[c key=[id] serial=true c key=[id] serial=true u key=[id] serial=true]"; fmt.Sprint(got) != want {
		t.Errorf("changes of the dropped table: %v, want %s", got, want)
	}

	h.Exec("INSERT INTO moods VALUES (1, 'sad')")
	h.Exec("DROP TABLE moods")
	h.Exec("DROP TYPE mood")
	err := h.runOnce(h.config())
	if !errors.Is(err, ErrTypeGone) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrTypeGone", err)
	}
	if !strings.Contains(err.Error(), "column m of public.moods") {
		t.Errorf("the error names no column and table: %v", err)
	}
	t.Logf("error: %v", err)
}

// TestSlotAdvancedByHandRefused: a slot advanced past walship's
// checkpoint while walship was stopped is refused with both positions
// (the change in between would be lost silently); accept_slot_gap_at set
// to that exact position accepts it knowingly, and streaming goes on.
func TestSlotAdvancedByHandRefused(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.Exec("INSERT INTO t VALUES (1)")
	h.CaughtUp()
	h.Stop()
	// A plain restart is not refused: walship confirms the slot only up to
	// its checkpoint.
	h.start(h.config())
	h.Exec("INSERT INTO t VALUES (2)")
	h.CaughtUp()
	h.Stop()

	h.Exec("INSERT INTO t VALUES (3)")
	// The stopped source's walsender lets go of the slot a moment later.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var active bool
		if err := h.admin.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", h.Name).Scan(&active); err == nil && !active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot stayed active after the source stopped")
		}
	}
	var confirmed string
	if err := h.admin.QueryRow(context.Background(),
		"SELECT end_lsn::text FROM pg_replication_slot_advance($1, pg_current_wal_lsn())", h.Name).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	err := h.runOnce(h.config())
	if !errors.Is(err, ErrSlotAhead) || !supervise.IsPermanent(err) || !strings.Contains(err.Error(), "accept_slot_gap_at: "+confirmed) {
		t.Fatalf("err = %v, want a permanent ErrSlotAhead naming %s", err, confirmed)
	}
	t.Logf("error: %v", err)

	cfg := h.config()
	at, err := offsets.ParseLSN(confirmed)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AcceptSlotGapAt = at
	h.start(cfg)
	h.Exec("INSERT INTO t VALUES (4)")
	h.CaughtUp()
	h.Stop()
	var ids []string
	for _, txn := range h.Read().Txns {
		for _, e := range txn.Events {
			if e.Change.Table.Name == "t" && e.Change.After != nil {
				ids = append(ids, fmt.Sprint(e.Change.After[0].Int()))
			}
		}
	}
	if got := strings.Join(dedupe(ids), ","); got != "1,2,4" {
		t.Errorf("rows in the log: %s, want 1,2,4 (3 was skipped by the advance, knowingly)", got)
	}
}

// dedupe drops repeats (a transaction re-sent after a restart), keeping
// the first.
func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v], out = true, append(out, v)
		}
	}
	return out
}

// TestSQLASCIIRefused: a SQL_ASCII database is refused before any slot is
// created, permanently (it used to retry forever, a new slot each time).
func TestSQLASCIIRefused(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	db := h.Name + "_ascii"
	h.Exec("CREATE DATABASE " + db + " ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	t.Cleanup(func() { h.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	cfg := h.config()
	cfg.DSN = strings.Replace(cfg.DSN, "/"+h.Name+"?", "/"+db+"?", 1)
	cfg.Slot = db
	err := h.runOnce(cfg)
	if !errors.Is(err, ErrEncoding) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrEncoding", err)
	}
	var n int
	h.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", db).Scan(&n)
	if n != 0 {
		t.Errorf("a slot was created for the refused database")
	}
}

// TestOversizedChangeStops: a change over the record limit stops the
// source, permanently, naming the table, the position and the size (it
// used to stay in backoff forever, holding the slot's WAL).
func TestOversizedChangeStops(t *testing.T) {
	h := newHarness(t, `CREATE TABLE big (id int PRIMARY KEY, v text);`)
	h.start(h.config())
	waitStreaming(t, h)
	h.CaughtUp()
	h.Stop()
	h.Exec("INSERT INTO big VALUES (1, repeat('abcdefghij', 300000))") // 3 MB
	enc := envelope.NewEncoder(envelope.Source{Name: "pg", Connector: "postgresql", Logical: h.Name, Database: h.Name}, envelope.Options{})
	src := New(h.config(), func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{h.Broker}, TopicPrefix: h.Name, Partitions: 3, MaxMessageBytes: 1 << 20}, enc), nil
	}, h.Store, h.Logger())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := src.Run(ctx, func() {})
	if !errors.Is(err, kafka.ErrRecordTooLarge) || !supervise.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrRecordTooLarge", err)
	}
	for _, want := range []string{h.Name + ".public.big", "kafka.max_message_bytes", "position"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q: %v", want, err)
		}
	}
	t.Logf("error: %v", err)
}

// TestMissingDatabaseStops: a database that does not exist stops the
// source permanently, naming it, as the MySQL source does (it used to be
// retried forever).
func TestMissingDatabaseStops(t *testing.T) {
	h := newHarness(t, `CREATE TABLE t (id int PRIMARY KEY);`)
	cfg := h.config()
	cfg.DSN = strings.Replace(cfg.DSN, "/"+h.Name+"?", "/"+h.Name+"_nosuch?", 1)
	err := h.runOnce(cfg)
	if !supervise.IsPermanent(err) || !strings.Contains(err.Error(), `database "`+h.Name+`_nosuch" does not exist`) {
		t.Fatalf("err = %v", err)
	}
}
