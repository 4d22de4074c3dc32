package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/supervise"
)

// partitionedSchema: a partitioned table whose primary key includes the
// partition key (as PostgreSQL requires), two partitions, and a child
// table whose foreign key references the partitioned root.
const partitionedSchema = `
CREATE TABLE pt (id int, region text NOT NULL, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu');
CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us');
INSERT INTO pt SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE notes (id int PRIMARY KEY, pt_id int NOT NULL, pt_region text NOT NULL,
	FOREIGN KEY (pt_id, pt_region) REFERENCES pt (id, region) ON UPDATE CASCADE ON DELETE CASCADE);
INSERT INTO notes VALUES (1, 1, 'us');
`

// TestPartitionedTable: a partitioned table named in tables: is captured
// by its root. The snapshot reads the rows of both partitions as rows of
// the root; the stream names the root for changes to either partition,
// including an UPDATE that moves a row between partitions and a DELETE
// (whose old key image, sent by the partition's replica identity while the
// root's is FULL, marks the columns it lacks unchanged, never NULL);
// every event is on the root's topic, none on a partition's, and the log
// folds into exactly the source's rows.
func TestPartitionedTable(t *testing.T) {
	h := newHarness(t, partitionedSchema)
	cfg := h.config()
	cfg.Tables = []string{"public.pt", "public.notes"}
	cfg.SnapshotChunkRows = 30
	// On the root only: the partitions keep the default (the primary key),
	// and deletes send their old key by the partition's identity.
	h.Exec("ALTER TABLE pt REPLICA IDENTITY FULL")
	h.start(cfg)
	waitStreaming(t, h)

	h.Exec("INSERT INTO pt VALUES (101, 'eu', 'new'), (102, 'us', 'new')")
	h.Exec("UPDATE pt SET v = 'same partition' WHERE id = 4 AND region = 'eu'")
	h.Exec("UPDATE pt SET region = 'us', v = 'moved' WHERE id = 2 AND region = 'eu'") // eu -> us
	h.Exec("UPDATE pt SET region = 'eu', v = 'moved' WHERE id = 1 AND region = 'us'") // us -> eu, cascades to notes
	h.Exec("DELETE FROM pt WHERE id IN (3, 6)")                                       // one row of each partition
	h.Exec("UPDATE pt_eu SET v = 'through the partition' WHERE id = 8")               // names the partition itself
	h.CaughtUp()

	l := h.Read()
	converged(t, fold(t, l), h.sourceState("public.pt", "public.notes"))

	rootTopic := kafka.TopicName(h.Name, "public", "pt")
	var snap, moved int
	var ops []string
	for part, evs := range l.Partitions {
		topic := part[:strings.LastIndex(part, "/")]
		for _, e := range evs {
			name := e.Change.Table.QualifiedName()
			if name != "public.pt" && name != "public.notes" {
				t.Fatalf("event of %s on %s: partitions must not be captured as tables", name, topic)
			}
			if name == "public.pt" && topic != rootTopic {
				t.Errorf("event of public.pt on topic %s, want %s", topic, rootTopic)
			}
		}
	}
	for _, txn := range l.Txns {
		for _, e := range txn.Events {
			ch := e.Change
			if ch.Table.Name == "notes" {
				// One foreign key, to the root: not also one per partition
				// (the catalog's clones of it).
				if fks := fmt.Sprint(ch.Table.ForeignKeys); len(ch.Table.ForeignKeys) != 1 || ch.Table.ForeignKeys[0].ParentTable != "pt" {
					t.Fatalf("public.notes has foreign keys %s, want one to public.pt", fks)
				}
			}
			if ch.Table.Name != "pt" {
				continue
			}
			if !slices.Equal(ch.Table.PrimaryKey, []string{"id", "region"}) {
				t.Fatalf("public.pt has primary key %v, want [id region] (the root's)", ch.Table.PrimaryKey)
			}
			if txn.End.Snapshot {
				snap++
				continue
			}
			row := ch.After
			if row == nil {
				row = ch.Before
			}
			ops = append(ops, fmt.Sprintf("%s %s/%s", ch.Op, row[0], row[1]))
			if ch.After != nil && ch.After[2].Text() == "moved" {
				moved++
			}
			if ch.Op == ordering.OpDelete && !ch.Before[2].IsUnchanged() {
				t.Errorf("delete of %s/%s: column v of the old key image is %v, want unchanged (not sent)", row[0], row[1], ch.Before[2])
			}
		}
	}
	if snap != 100 {
		t.Errorf("the snapshot has %d rows of public.pt, want 100 (both partitions)", snap)
	}
	if moved != 2 {
		t.Errorf("%d moved rows arrived, want 2", moved)
	}
	t.Logf("streamed changes of public.pt: %s", strings.Join(ops, ", "))
	// The topics of the partitions were never created.
	for part := range l.Partitions {
		if strings.Contains(part, ".pt_") {
			t.Errorf("a partition has a topic: %s", part)
		}
	}
}

// TestPartitionedPublication: the publication walship creates publishes
// partitioned tables by their root, for listed tables and for a whole
// schema; a partition is listed on its own only when its root is not
// configured; an unlogged table is never listed.
func TestPartitionedPublication(t *testing.T) {
	h := newHarness(t, partitionedSchema+`
		CREATE SCHEMA other;
		CREATE TABLE other.q (id int PRIMARY KEY) PARTITION BY RANGE (id);
		CREATE TABLE other.q_1 PARTITION OF other.q FOR VALUES FROM (0) TO (10);
		CREATE UNLOGGED TABLE nolog (id int PRIMARY KEY);`)
	ctx := context.Background()
	for _, tc := range []struct {
		tables []string
		want   string
	}{
		{[]string{"public.pt", "public.notes"}, "[public.notes public.pt]"},
		{[]string{"public.*"}, "[public.notes public.pt]"},
		{[]string{"public.pt*", "public.pt_eu"}, "[public.pt]"},
		{[]string{"other.q_1"}, "[other.q_1]"},
		{[]string{"public.no*"}, "[public.notes]"}, // not the unlogged table, which no publication takes
	} {
		t.Run(strings.Join(tc.tables, ","), func(t *testing.T) {
			cfg := h.config()
			cfg.Tables = tc.tables
			src := New(cfg, nil, h.Store, h.Logger())
			h.Exec("DROP PUBLICATION IF EXISTS " + h.Name)
			if err := src.ensurePublication(ctx, h.admin, false); err != nil {
				t.Fatal(err)
			}
			got, err := publicationTables(ctx, h.admin, cfg.Publication, cfg.Tables)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("publication tables %v, want %s", got, tc.want)
			}
		})
	}
}

// TestPartitionedPublicationMigrated: a publication from an earlier run
// without publish_via_partition_root is switched over while no snapshot
// has run yet, and refused with ErrPartitionsAsTables after one.
func TestPartitionedPublicationMigrated(t *testing.T) {
	h := newHarness(t, partitionedSchema)
	ctx := context.Background()
	cfg := h.config()
	cfg.Tables = []string{"public.pt"}
	src := New(cfg, nil, h.Store, h.Logger())
	h.Exec("CREATE PUBLICATION " + h.Name + " FOR TABLE pt")

	err := src.ensurePublication(ctx, h.admin, false)
	if !errors.Is(err, ErrPartitionsAsTables) || !strings.Contains(err.Error(), "publish_via_partition_root = true") {
		t.Fatalf("after a snapshot: %v, want ErrPartitionsAsTables naming the fix", err)
	}
	if err := src.ensurePublication(ctx, h.admin, true); err != nil {
		t.Fatal(err)
	}
	var viaRoot bool
	if err := h.admin.QueryRow(ctx, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", h.Name).Scan(&viaRoot); err != nil {
		t.Fatal(err)
	}
	got, err := publicationTables(ctx, h.admin, cfg.Publication, cfg.Tables)
	if err != nil {
		t.Fatal(err)
	}
	if !viaRoot || fmt.Sprint(got) != "[public.pt]" {
		t.Errorf("after migrating: pubviaroot=%v, tables %v", viaRoot, got)
	}
}

// runUntilError runs a source like start does, but once: the error that
// ends its run (a supervisor would stop there on a permanent one) is sent
// on the returned channel.
func (h *harness) runUntilError(cfg Config) <-chan error {
	h.src = New(cfg, h.logFor(cfg), h.Store, h.Logger())
	ctx, cancel := context.WithCancel(context.Background())
	done, exited := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- h.src.Run(ctx, func() {})
	}()
	h.T.Cleanup(func() { cancel(); <-exited })
	h.stopRun = func() { cancel(); <-exited }
	return done
}

// rebuiltPartitions forgets the partitions kept with the checkpoint, as a
// rebuild (replay --resnapshot, which deletes the checkpoint) does: the
// next run takes them as they are.
func (h *harness) rebuiltPartitions(cfg Config) {
	h.T.Helper()
	if err := h.Store.SaveNote(context.Background(), cfg.Name, partitionsNote, []byte("{}")); err != nil {
		h.T.Fatal(err)
	}
}

// TestPartitionChangedWhileStopped (issue 27): partitions attached with
// rows, or detached with rows, while walship is stopped are noticed after
// the restart, at the root's first change, from the partitions kept with
// the checkpoint; an empty partition created meanwhile is fine.
func TestPartitionChangedWhileStopped(t *testing.T) {
	h := newHarness(t, partitionedSchema)
	cfg := h.config()
	cfg.Tables = []string{"public.pt"}
	errs := h.runUntilError(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO pt VALUES (200, 'eu', 'streamed')")
	h.CaughtUp()
	noError(t, errs)
	h.stopRun()

	h.Exec("CREATE TABLE pt_ap PARTITION OF pt FOR VALUES IN ('ap')")
	h.Exec("INSERT INTO pt VALUES (201, 'ap', 'in a partition created while stopped')")
	errs = h.runUntilError(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	noError(t, errs)
	converged(t, fold(t, h.Read()), h.sourceState("public.pt"))
	h.stopRun()

	h.Exec("CREATE TABLE pt_x (id int, region text NOT NULL, v text, PRIMARY KEY (id, region))")
	h.Exec("INSERT INTO pt_x VALUES (400, 'x', 'written before the attach')")
	h.Exec("ALTER TABLE pt ATTACH PARTITION pt_x FOR VALUES IN ('x')")
	h.Exec("INSERT INTO pt VALUES (401, 'x', 'after the attach')")
	wantStop(t, h.runUntilError(cfg), ErrPartitionAttached, "public.pt_x", "public.pt", "walship replay --resnapshot")

	h.rebuiltPartitions(cfg)
	errs = h.runUntilError(cfg)
	waitStreaming(t, h)
	h.CaughtUp()
	noError(t, errs)
	h.stopRun()
	h.Exec("ALTER TABLE pt DETACH PARTITION pt_eu")
	h.Exec("INSERT INTO pt VALUES (403, 'us', 'after the detach')")
	wantStop(t, h.runUntilError(cfg), ErrPartitionDetached, "public.pt_eu", "public.pt")
}

func noError(t *testing.T, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		t.Fatalf("the source stopped: %v", err)
	default:
	}
}

func wantStop(t *testing.T, errs <-chan error, want error, parts ...string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, want) || !supervise.IsPermanent(err) {
			t.Fatalf("the source stopped with %v, want permanent %v", err, want)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error lacks %q: %v", p, err)
			}
		}
		t.Logf("stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the source did not stop with %v", want)
	}
}

// TestPartitionAttachDetach: partitions come and go while the source
// streams. A partition created empty (CREATE TABLE ... PARTITION OF) and
// an empty partition detached are fine, and their rows, which went
// through the stream, converge. Attaching a table that already holds rows
// stops the source with ErrPartitionAttached, and detaching a partition
// that holds rows, or dropping one, with ErrPartitionDetached, each naming
// the partition,
// the table, the position and the way out: PostgreSQL streams no row
// change for either, so the followers would silently differ.
func TestPartitionAttachDetach(t *testing.T) {
	h := newHarness(t, partitionedSchema)
	cfg := h.config()
	cfg.Tables = []string{"public.pt"}
	errs := h.runUntilError(cfg)
	waitStreaming(t, h)

	h.Exec("CREATE TABLE pt_ap PARTITION OF pt FOR VALUES IN ('ap')")
	h.Exec("INSERT INTO pt VALUES (200, 'ap', 'in a new partition')")
	h.Exec("CREATE TABLE pt_old PARTITION OF pt FOR VALUES IN ('old')")
	h.Exec("INSERT INTO pt VALUES (300, 'old', 'deleted before the detach')")
	h.CaughtUp()
	h.Exec("DELETE FROM pt WHERE region = 'old'") // through the root: replicated
	h.Exec("ALTER TABLE pt DETACH PARTITION pt_old")
	h.Exec("INSERT INTO pt VALUES (201, 'eu', 'after the detach')")
	h.CaughtUp()
	noError(t, errs)
	converged(t, fold(t, h.Read()), h.sourceState("public.pt"))

	h.Exec("CREATE TABLE pt_x (id int, region text NOT NULL, v text, PRIMARY KEY (id, region))")
	h.Exec("INSERT INTO pt_x VALUES (400, 'x', 'written before the attach')")
	h.Exec("ALTER TABLE pt ATTACH PARTITION pt_x FOR VALUES IN ('x')")
	h.Exec("INSERT INTO pt VALUES (401, 'x', 'after the attach')")
	wantStop(t, errs, ErrPartitionAttached, "public.pt_x", "public.pt", "noticed at the transaction committing at", "walship replay --resnapshot")

	// A restart does not forget it: the followers still lack the rows.
	errs = h.runUntilError(cfg)
	wantStop(t, errs, ErrPartitionAttached, "public.pt_x", "public.pt")

	// A rebuild records the partitions as they are now (a rebuilt follower
	// would have pt_x's rows).
	h.rebuiltPartitions(cfg)
	errs = h.runUntilError(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO pt VALUES (402, 'x', 'streamed')")
	h.CaughtUp()
	noError(t, errs)
	h.Exec("ALTER TABLE pt DETACH PARTITION pt_eu")
	h.Exec("INSERT INTO pt VALUES (403, 'us', 'after the detach')")
	wantStop(t, errs, ErrPartitionDetached, "public.pt_eu", "public.pt", "delete its rows through public.pt first")

	// Dropping a partition: its rows are gone from the source, unknown.
	h.rebuiltPartitions(cfg)
	errs = h.runUntilError(cfg)
	waitStreaming(t, h)
	h.Exec("INSERT INTO pt VALUES (404, 'us', 'streamed')")
	h.CaughtUp()
	noError(t, errs)
	h.Exec("DROP TABLE notes") // its foreign key depends on every partition
	h.Exec("DROP TABLE pt_ap")
	h.Exec("INSERT INTO pt VALUES (405, 'us', 'after the drop')")
	wantStop(t, errs, ErrPartitionDetached, "public.pt_ap", "is gone", "walship replay --resnapshot")
}
