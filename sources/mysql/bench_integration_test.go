package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/walship/walship/internal/benchkit"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources"
	"github.com/walship/walship/sources/sourcetest"
)

// BenchmarkBinlogSourceVsRawSyncer compares the MariaDB source's decode +
// publish rate (binlog → Kafka, acks=all, until the checkpoint holds the
// load's last GTID) with go-mysql's BinlogSyncer alone reading the same
// binlog with the source's decoding settings and no processing: the rate of
// the server's binlog dump and go-mysql's decoder, the ceiling for walship.
//
// The GTID position (and file:pos) is recorded before the load is written;
// each consumer then reads the already-written binlog from there: the raw
// syncer with StartSyncGTID, walship from a checkpoint seeded at that
// position (Snapshot "never"). One iteration is one whole measurement: run
// it with -benchtime=1x (make bench-mysql-source).
//
//	WALSHIP_BENCH_ROWS        inserted rows (default 200000)
//	WALSHIP_BENCH_TXN         rows per transaction (default 100)
//	WALSHIP_BENCH_OUT         results folder (default <repo>/bench/results; "-" = none)
//	WALSHIP_BENCH_CPUPROFILE  write a CPU profile of walship's phase alone to this file
//	                          (do not combine with go test -cpuprofile)
//	WALSHIP_BENCH_DISCARD=1   also run walship into a Log that drops the changes, and
//	                          into one that encodes their envelopes and drops them
//	                          (no Kafka): where the time goes
//
// Every 10th transaction is followed by one updating its rows again, so the
// stream holds rows + rows/10 row changes; the rates count row changes of
// the bench table. The server is shared: the raw syncer also decodes
// whatever other tests write meanwhile (walship skips those tables' rows).
func BenchmarkBinlogSourceVsRawSyncer(b *testing.B) {
	dsn := testenv.MySQLSource(b)
	runs, raw, ws := sourcetest.Bench(b, "raw_syncer_rows/s", "walship/raw",
		func(l sourcetest.BenchLoad) binlogBenchRun { return runBinlogBench(b, dsn, l) },
		func(r binlogBenchRun) (float64, float64) { return r.RawRate, r.WalshipRate })
	writeBinlogBenchResult(b, dsn, runs, raw, ws)
}

// binlogBenchRun is one measurement.
type binlogBenchRun struct {
	Rows             int     `json:"rows"`
	Changes          int     `json:"changes"`
	RowsPerTxn       int     `json:"rows_per_txn"`
	GTIDsBefore      string  `json:"gtids_before"`
	GTIDsAfter       string  `json:"gtids_after"`
	BinlogBefore     string  `json:"binlog_before"`
	BinlogAfter      string  `json:"binlog_after"`
	BinlogBytes      uint64  `json:"binlog_bytes"` // the whole server's, before..after
	LoadSeconds      float64 `json:"load_seconds"`
	RawSecs          float64 `json:"raw_seconds"`
	RawEvents        int     `json:"raw_events"`                // binlog events the raw syncer read
	RawAllChanges    int     `json:"raw_all_changes"`           // row changes of every table (the shared server's)
	WalshipStreaming float64 `json:"walship_streaming_seconds"` // start → binlog stream started
	WalshipPublished float64 `json:"walship_published_seconds"` // start → every change handed to the Kafka writer
	WalshipSecs      float64 `json:"walship_seconds"`           // start → checkpoint holds the after-position
	RawCPUSecs       float64 `json:"raw_cpu_seconds"`           // this process's user+sys CPU during the raw phase
	WalshipCPUSecs   float64 `json:"walship_cpu_seconds"`       // this process's user+sys CPU during walship's phase
	RawRate          float64 `json:"raw_rows_per_s"`
	WalshipRate      float64 `json:"walship_rows_per_s"`
	Ratio            float64 `json:"ratio"`
	// WALSHIP_BENCH_DISCARD=1 diagnostics: walship into a Log that drops
	// the changes, and into one that encodes envelopes and drops them.
	DiscardRate    float64 `json:"walship_discard_rows_per_s,omitempty"`
	EncodeOnlyRate float64 `json:"walship_encode_only_rows_per_s,omitempty"`
	DiscardCPU     float64 `json:"walship_discard_cpu_seconds,omitempty"`
	EncodeOnlyCPU  float64 `json:"walship_encode_only_cpu_seconds,omitempty"`
}

func runBinlogBench(b *testing.B, dsn string, l sourcetest.BenchLoad) binlogBenchRun {
	broker, rows, perTxn, changes := l.Broker, l.Rows, l.PerTxn, l.Changes
	ctx := context.Background()
	mc, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		b.Fatalf("%s: %v", testenv.EnvMySQLSource, err)
	}
	host, port, err := hostPort(mc.Addr)
	if err != nil {
		b.Fatalf("%s: address %q: %v", testenv.EnvMySQLSource, mc.Addr, err)
	}
	seq := sourcetest.NextSeq()
	name := fmt.Sprintf("walship_mybench_%d_%d", os.Getpid(), seq)
	// Server ids of their own (raw, walship, two diagnostics), away from
	// the harness's 40000+ range.
	rawID := uint32(60000 + 4*((os.Getpid()+int(seq))%10000))
	wsID := rawID + 1

	root, err := sql.Open("mysql", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	// Cleanup runs even after Fatal: the sources are stopped first (by
	// runBinlogBenchWalship's own defers), then the database and the
	// topics go.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := root.ExecContext(cctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			b.Logf("drop database %s: %v", name, err)
		}
		benchkit.DeleteTopics(cctx, b, broker, kafka.TransactionTopic(name), kafka.TopicName(name, name, "bench"))
	}()
	db, err := sql.Open("mysql", dsn+name)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// 1. The table, then the position before any row is written.
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench (id bigint PRIMARY KEY, a int, b varchar(40), c decimal(12,2), d datetime(6))`); err != nil {
		b.Fatal(err)
	}
	before := binlogBenchPosition(b, db)

	// 2. The load: rows inserts in transactions of perTxn rows; after every
	// 10th, one more transaction updates the rows just inserted. One
	// compound statement, one round trip, a COMMIT per transaction.
	load := fmt.Sprintf(`BEGIN NOT ATOMIC
  DECLARE n BIGINT DEFAULT %d;
  DECLARE per BIGINT DEFAULT %d;
  DECLARE i BIGINT DEFAULT 0;
  WHILE i < n DO
    START TRANSACTION;
    INSERT INTO bench (id, a, b, c, d)
      SELECT seq, MOD(seq, 1000), md5(seq), MOD(seq, 1000000) / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND
      FROM seq_1_to_%d WHERE seq > i AND seq <= LEAST(i + per, n);
    COMMIT;
    SET i = i + per;
    IF MOD(i, per * 10) = 0 THEN
      START TRANSACTION;
      UPDATE bench SET a = a + 1, c = c + 1, d = d + INTERVAL 1 HOUR WHERE id > i - per AND id <= i;
      COMMIT;
    END IF;
  END WHILE;
END`, rows, perTxn, rows)
	t0 := time.Now()
	if _, err := db.ExecContext(ctx, load); err != nil {
		b.Fatalf("load: %v", err)
	}
	loadTime := time.Since(t0)
	after := binlogBenchPosition(b, db)
	binlogBytes := binlogBenchBytes(b, db, before.Binlog, after.Binlog)
	b.Logf("load: %d rows, %d row changes, %.1f MB of binlog (%s..%s, GTIDs %s..%s, the whole server's) in %s",
		rows, changes, float64(binlogBytes)/1e6, before.Binlog, after.Binlog, before.GTIDs, after.GTIDs, loadTime.Round(time.Millisecond))

	// 3. The raw BinlogSyncer reads from the before-position until the
	// transaction completing the after-position.
	raw := rawSyncerDrain(b, host, port, mc.User, mc.Passwd, rawID, name, before.GTIDs, after.GTIDs)
	if raw.changes != changes {
		b.Errorf("raw syncer saw %d row changes of %s.bench, want %d", raw.changes, name, changes)
	}
	b.Logf("raw BinlogSyncer: %s (%s CPU, %.2f µs/change), %d events, %d row changes (%d of every table)",
		raw.elapsed.Round(time.Millisecond), raw.cpu.Round(time.Millisecond), float64(raw.cpu.Microseconds())/float64(changes),
		raw.events, raw.changes, raw.allChanges)

	// 4. walship, from a checkpoint seeded at the before-position, into
	// Kafka until the checkpoint holds the after-position.
	cfg := Config{Name: "my", Addr: mc.Addr, User: mc.User, Password: mc.Passwd, ServerID: wsID, Flavor: "mariadb",
		Tables: []string{name + ".bench"}, Snapshot: "never"}
	enc := envelope.NewEncoder(envelope.Source{Name: cfg.Name, Connector: "mariadb", Logical: name, Database: name}, envelope.Options{})
	ws := runBinlogBenchWalship(b, cfg, before, after, changes, os.Getenv("WALSHIP_BENCH_CPUPROFILE"), func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, TopicPrefix: name, Rows: os.Getenv("WALSHIP_BENCH_ENVELOPE") == "rows"}, enc), nil
	})
	b.Logf("walship→kafka: binlog stream started after %s, all changes handed to Kafka after %s, checkpoint at %s after %s (%s CPU, %.2f µs/change)",
		ws.Streaming.Round(time.Millisecond), ws.Published.Round(time.Millisecond), after.GTIDs, ws.Elapsed.Round(time.Millisecond),
		ws.CPU.Round(time.Millisecond), float64(ws.CPU.Microseconds())/float64(changes))

	// 5. Optional diagnostics (WALSHIP_BENCH_DISCARD=1): the same source
	// into a Log that drops the changes (binlog decode and buffering only),
	// and into one that encodes each change's envelope and drops it (no
	// Kafka). Their own server ids; checkpoints seeded the same way.
	var discard, encodeOnly sourcetest.BenchTimes
	if os.Getenv("WALSHIP_BENCH_DISCARD") == "1" {
		cfg.ServerID = wsID + 1
		discard = runBinlogBenchWalship(b, cfg, before, after, changes, "", func() (sources.Log, error) {
			return &binlogBenchDiscardLog{}, nil
		})
		cfg.ServerID = wsID + 2
		encodeOnly = runBinlogBenchWalship(b, cfg, before, after, changes, "", func() (sources.Log, error) {
			return &binlogBenchDiscardLog{enc: enc}, nil
		})
		b.Logf("walship→discard: %s (%.0f rows/s, %.2f µs CPU/change); walship→envelope→discard: %s (%.0f rows/s, %.2f µs CPU/change)",
			discard.Elapsed.Round(time.Millisecond), float64(changes)/discard.Elapsed.Seconds(), float64(discard.CPU.Microseconds())/float64(changes),
			encodeOnly.Elapsed.Round(time.Millisecond), float64(changes)/encodeOnly.Elapsed.Seconds(), float64(encodeOnly.CPU.Microseconds())/float64(changes))
	}

	r := binlogBenchRun{Rows: rows, Changes: changes, RowsPerTxn: perTxn,
		GTIDsBefore: before.GTIDs.String(), GTIDsAfter: after.GTIDs.String(),
		BinlogBefore: before.Binlog.String(), BinlogAfter: after.Binlog.String(), BinlogBytes: binlogBytes,
		LoadSeconds: loadTime.Seconds(), RawSecs: raw.elapsed.Seconds(), RawEvents: raw.events, RawAllChanges: raw.allChanges,
		WalshipStreaming: ws.Streaming.Seconds(), WalshipPublished: ws.Published.Seconds(), WalshipSecs: ws.Elapsed.Seconds(),
		RawCPUSecs: raw.cpu.Seconds(), WalshipCPUSecs: ws.CPU.Seconds(),
		RawRate: float64(changes) / raw.elapsed.Seconds(), WalshipRate: float64(changes) / ws.Elapsed.Seconds()}
	r.Ratio = r.WalshipRate / r.RawRate
	if discard.Elapsed > 0 {
		r.DiscardRate = float64(changes) / discard.Elapsed.Seconds()
		r.EncodeOnlyRate = float64(changes) / encodeOnly.Elapsed.Seconds()
		r.DiscardCPU, r.EncodeOnlyCPU = discard.CPU.Seconds(), encodeOnly.CPU.Seconds()
	}
	line := fmt.Sprintf("binlog source rows=%d changes=%d raw BinlogSyncer=%.0f rows/s (%.2fs) walship→kafka=%.0f rows/s (%.2fs) ratio=%.2f",
		rows, changes, r.RawRate, r.RawSecs, r.WalshipRate, r.WalshipSecs, r.Ratio)
	b.Log(line)
	fmt.Println(line)
	return r
}

// runBinlogBenchWalship runs the source from a checkpoint seeded at before
// until its checkpoint holds after, and checks it published changes row
// changes. A non-empty cpuProfile profiles this phase alone.
func runBinlogBenchWalship(b *testing.B, cfg Config, before, after offsets.Position, changes int, cpuProfile string, newLog func() (sources.Log, error)) sourcetest.BenchTimes {
	ctx := context.Background()
	cfg.StateDir = b.TempDir()
	store, err := offsets.OpenStore(cfg.StateDir)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Save(ctx, cfg.Name, offsets.Checkpoint{Position: before, SnapshotDone: true}); err != nil {
		b.Fatal(err)
	}
	src := New(cfg, newLog, store, benchkit.Logger(slog.LevelInfo))
	var acked string
	r := sourcetest.RunBench(b, src, changes, cpuProfile, func(st sources.Status) bool {
		// Acked is the saved checkpoint's position: "<gtids> (<file:pos>)".
		if st.Acked != acked {
			acked = st.Acked
			gtids, _, _ := strings.Cut(acked, " (")
			if set, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, gtids); err == nil && set.Contains(after.GTIDs) {
				return true
			}
		}
		return false
	}, func(st sources.Status) string {
		return fmt.Sprintf("walship's checkpoint never reached %s; status %+v", after.GTIDs, st)
	})
	if cp, err := store.Load(ctx, cfg.Name); err != nil || !cp.Position.GTIDs.Contains(after.GTIDs) {
		b.Errorf("stored checkpoint %v (%v) does not hold %s", cp.Position, err, after.GTIDs)
	}
	return r
}

// binlogBenchDiscardLog is a Log that holds every transaction durable as
// soon as it is published; with enc set it first encodes each change's
// envelope, as the Kafka publisher would.
type binlogBenchDiscardLog struct {
	enc     *envelope.Encoder
	mu      sync.Mutex
	seq     offsets.Seq
	pos     offsets.Position
	notify  chan struct{}
	encoded int64
}

func (l *binlogBenchDiscardLog) Publish(ctx context.Context, txn *ordering.Txn, count int, changes iter.Seq2[*ordering.Change, error]) error {
	i := 0
	for ch, err := range changes {
		if err != nil {
			return err
		}
		if l.enc != nil {
			recs, err := l.enc.Encode(envelope.Event{Txn: txn, Change: ch, Index: i, Order: i, CollectionIndex: i, Count: count})
			if err != nil {
				return err
			}
			for _, rec := range recs {
				l.encoded += int64(len(rec.Value))
			}
		}
		i++
	}
	l.mu.Lock()
	l.seq, l.pos = txn.Seq, txn.Pos
	l.mu.Unlock()
	return nil
}

func (l *binlogBenchDiscardLog) Durable() (offsets.Seq, offsets.Position) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.pos
}

func (l *binlogBenchDiscardLog) Notify() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify
}

func (l *binlogBenchDiscardLog) Err() error                  { return nil }
func (l *binlogBenchDiscardLog) Pending() int                { return 0 }
func (l *binlogBenchDiscardLog) Close(context.Context) error { return nil }

// binlogBenchPosition reads the server's GTID position and SHOW MASTER
// STATUS, the way a source without a checkpoint would start.
func binlogBenchPosition(b *testing.B, db *sql.DB) offsets.Position {
	b.Helper()
	ctx := context.Background()
	p := offsets.Position{Engine: offsets.EngineMariaDB}
	var gtids string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtids); err != nil {
		b.Fatal(err)
	}
	set, err := offsets.ParseGTIDSet(offsets.FlavorMariaDB, strings.ReplaceAll(gtids, "\n", ""))
	if err != nil {
		b.Fatal(err)
	}
	p.GTIDs = set
	var file string
	var pos uint64
	var doDB, ignoreDB sql.NullString
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		b.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	p.Binlog = offsets.BinlogPos{File: file, Pos: pos}
	return p
}

// binlogBenchBytes is the binlog written between two positions (SHOW
// BINARY LOGS for the files in between).
func binlogBenchBytes(b *testing.B, db *sql.DB, from, to offsets.BinlogPos) uint64 {
	if from.File == to.File {
		return to.Pos - from.Pos
	}
	rs, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		b.Logf("SHOW BINARY LOGS: %v", err)
		return 0
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var total uint64
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil || len(vals) < 2 {
			return 0
		}
		size, _ := strconv.ParseUint(vals[1].String, 10, 64)
		f := offsets.BinlogPos{File: vals[0].String}
		switch {
		case f.File == from.File:
			total += size - from.Pos
		case f.File == to.File:
			total += to.Pos
		case f.Compare(from) > 0 && f.Compare(to) < 0:
			total += size
		}
	}
	return total
}

type rawResult struct {
	elapsed    time.Duration
	cpu        time.Duration // this process's user+sys
	events     int
	changes    int // of schema.bench
	allChanges int // of every table
}

// rawSyncerDrain reads the binlog from the GTID set from with go-mysql's
// BinlogSyncer (the source's decoding settings, no row filter, nothing
// done with the rows) until an event completes the GTID set to, counting
// row changes. The clock runs from StartSyncGTID to that event.
func rawSyncerDrain(b *testing.B, host string, port uint16, user, password string, serverID uint32, schema string, from, to offsets.GTIDSet) rawResult {
	b.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: serverID, Flavor: "mariadb", Host: host, Port: port, User: user, Password: password,
		Charset: "utf8mb4", UseDecimal: true, ParseTime: false, TimestampStringLocation: time.UTC,
		HeartbeatPeriod: 5 * time.Second, ReadTimeout: 15 * time.Second, DisableRetrySync: true,
		Logger: benchkit.Logger(slog.LevelInfo).With("component", "raw-binlog"),
	})
	defer syncer.Close()
	target := to.Native()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var r rawResult
	cpu0 := benchkit.ProcessCPU()
	t0 := time.Now()
	st, err := syncer.StartSyncGTID(from.Native().Clone())
	if err != nil {
		b.Fatalf("raw syncer: start at %s: %v", from, err)
	}
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			b.Fatalf("raw syncer: after %d events (%d row changes): %v", r.events, r.changes, err)
		}
		r.events++
		switch e := ev.Event.(type) {
		case *replication.RowsEvent:
			n := len(e.Rows)
			switch ev.Header.EventType {
			case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
				replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
				n /= 2
			}
			r.allChanges += n
			if e.Table != nil && string(e.Table.Schema) == schema {
				r.changes += n
			}
		case *replication.XIDEvent:
			if e.GSet != nil && e.GSet.Contain(target) {
				r.elapsed, r.cpu = time.Since(t0), benchkit.ProcessCPU()-cpu0
				return r
			}
		case *replication.QueryEvent: // a DDL or non-transactional write of another test may come last
			if e.GSet != nil && e.GSet.Contain(target) {
				r.elapsed, r.cpu = time.Since(t0), benchkit.ProcessCPU()-cpu0
				return r
			}
		}
	}
}

// writeBinlogBenchResult writes bench/results/mysql-source-<date>.json.
func writeBinlogBenchResult(b *testing.B, dsn string, runs []binlogBenchRun, raw, ws float64) {
	server := ""
	if db, err := sql.Open("mysql", dsn); err == nil {
		db.QueryRow("SELECT VERSION()").Scan(&server)
		db.Close()
	}
	last := runs[len(runs)-1]
	benchkit.WriteResult(b, "mysql-source", map[string]any{
		"benchmark":          "BenchmarkBinlogSourceVsRawSyncer",
		"envelope":           benchEnvelopeName(),
		"rows":               last.Rows,
		"changes":            last.Changes,
		"rows_per_txn":       last.RowsPerTxn,
		"raw_rows_per_s":     raw,
		"walship_rows_per_s": ws,
		"ratio":              ws / raw,
		"runs":               runs,
		"go_mysql_version":   benchkit.ModVersion("github.com/go-mysql-org/go-mysql"),
		"mariadb_version":    server,
		"note":               "rates count row changes of the bench table (inserts + updates); walship: binlog -> Kafka (acks=all) from a checkpoint seeded at the load's start until the checkpoint holds the load's last GTID; raw: go-mysql BinlogSyncer (UseDecimal, no ParseTime, UTC) from StartSyncGTID at the load's start until the event completing the load's last GTID, rows decoded and dropped",
	})
}

func (l *binlogBenchDiscardLog) Heartbeat(context.Context, string, offsets.Position, time.Time) (bool, error) {
	return false, nil
}

func (l *binlogBenchDiscardLog) DurableHeartbeat() offsets.Position { return offsets.Position{} }
func (l *binlogBenchDiscardLog) Resume(offsets.Seq)                 {}

// benchEnvelopeName is the log's value format in this run:
// $WALSHIP_BENCH_ENVELOPE, or json.
func benchEnvelopeName() string {
	if e := os.Getenv("WALSHIP_BENCH_ENVELOPE"); e != "" {
		return e
	}
	return "json"
}
