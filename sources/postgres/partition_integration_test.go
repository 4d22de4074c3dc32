package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/walship/walship/ordering/kafka"
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
// including an UPDATE that moves a row between partitions and a DELETE;
// every event is on the root's topic, none on a partition's, and the log
// folds into exactly the source's rows.
func TestPartitionedTable(t *testing.T) {
	h := newHarness(t, partitionedSchema)
	cfg := h.config()
	cfg.Tables = []string{"public.pt", "public.notes"}
	cfg.SnapshotChunkRows = 30
	h.start(cfg)
	waitStreaming(t, h)

	h.exec("INSERT INTO pt VALUES (101, 'eu', 'new'), (102, 'us', 'new')")
	h.exec("UPDATE pt SET v = 'same partition' WHERE id = 4 AND region = 'eu'")
	h.exec("UPDATE pt SET region = 'us', v = 'moved' WHERE id = 2 AND region = 'eu'") // eu -> us
	h.exec("UPDATE pt SET region = 'eu', v = 'moved' WHERE id = 1 AND region = 'us'") // us -> eu, cascades to notes
	h.exec("DELETE FROM pt WHERE id IN (3, 6)")                                       // one row of each partition
	h.exec("UPDATE pt_eu SET v = 'through the partition' WHERE id = 8")               // names the partition itself
	h.caughtUp()

	l := h.read()
	converged(t, fold(t, l), h.sourceState("public.pt", "public.notes"))

	rootTopic := kafka.TopicName(h.name, "public", "pt")
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
// configured.
func TestPartitionedPublication(t *testing.T) {
	h := newHarness(t, partitionedSchema+`
		CREATE SCHEMA other;
		CREATE TABLE other.q (id int PRIMARY KEY) PARTITION BY RANGE (id);
		CREATE TABLE other.q_1 PARTITION OF other.q FOR VALUES FROM (0) TO (10);`)
	ctx := context.Background()
	for _, tc := range []struct {
		tables []string
		want   string
	}{
		{[]string{"public.pt", "public.notes"}, "[public.notes public.pt]"},
		{[]string{"public.*"}, "[public.notes public.pt]"},
		{[]string{"public.pt*", "public.pt_eu"}, "[public.pt]"},
		{[]string{"other.q_1"}, "[other.q_1]"},
	} {
		t.Run(strings.Join(tc.tables, ","), func(t *testing.T) {
			cfg := h.config()
			cfg.Tables = tc.tables
			src := New(cfg, nil, h.store, h.srcLog())
			h.exec("DROP PUBLICATION IF EXISTS " + h.name)
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
	src := New(cfg, nil, h.store, h.srcLog())
	h.exec("CREATE PUBLICATION " + h.name + " FOR TABLE pt")

	err := src.ensurePublication(ctx, h.admin, false)
	if !errors.Is(err, ErrPartitionsAsTables) || !strings.Contains(err.Error(), "publish_via_partition_root = true") {
		t.Fatalf("after a snapshot: %v, want ErrPartitionsAsTables naming the fix", err)
	}
	if err := src.ensurePublication(ctx, h.admin, true); err != nil {
		t.Fatal(err)
	}
	var viaRoot bool
	if err := h.admin.QueryRow(ctx, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", h.name).Scan(&viaRoot); err != nil {
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
