package main

// TestDebeziumJDBCSinkReadsWalshipTopics (make test-debezium; also part of
// make test): Debezium's own JDBC sink connector, in Kafka Connect
// standalone with Connect's default converters (JsonConverter with its
// default schemas.enable=true for keys and values, and no header.converter:
// SimpleHeaderConverter), reads walship's json-schema topics of a PostgreSQL
// and a MariaDB source unchanged and writes tables equal to the sources:
//
//   - one column per type of the README's type table (both sources), rows
//     snapshotted and streamed, updates (REPLICA IDENTITY DEFAULT on
//     PostgreSQL: before is null), primary-key changes (delete, tombstone,
//     create) and deletes (with tombstones);
//   - the Debezium-written tables are compared with the sources as walship
//     verify compares a follower (package verify, in key-order chunks), and
//     so is a walship sink of the same log: both must be equal;
//   - neither connector nor task may fail, and Connect's log holds no task
//     failure.
//
// Debezium's published jars come from deploy/bench/debezium/fetch.sh (run
// here when missing; it caches them outside the repository). Versions:
// Debezium 3.5.0.Final, Connect 4.1.1 (see fetch.sh for why not 3.6).
// Debezium's sink settings are those a new user would pick:
// insert.mode=upsert, primary.key.mode=record_key, delete.enabled=true,
// schema.evolution=basic (it creates the tables), and table names from the
// source table (collection.name.format=${source.table}).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/config"
	"github.com/walship/walship/internal/testenv"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/verify"
)

// dbzPGTable is one column per PostgreSQL type of the README's type table.
const dbzPGTable = `CREATE TYPE dbz_mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN dbz_posint AS integer CHECK (VALUE > 0);
CREATE TABLE dbz_pg (
  id bigint PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  n102 numeric(10,2), n numeric, r real, d double precision,
  vc varchar(40), ch char(5), t text, b boolean, by bytea,
  dt date, tm time(6), ts timestamp(6), tstz timestamptz(6), iv interval,
  u uuid, j json, jb jsonb,
  net inet, mon money, bits bit(4), vbits varbit(8), pt point, tsv tsvector, x xml, rng int4range,
  mood dbz_mood, dom dbz_posint, tags text[], nums integer[]
)`

// dbzPGRow is the SQL of the values of dbz_pg's row id; every row differs.
// Column n (numeric without a scale) travels as Debezium's
// VariableScaleDecimal, for which Debezium's JDBC sink creates and binds a
// double precision column (as it does behind Debezium's own PostgreSQL
// connector): its values here are exact in a double and have no trailing
// zeros, which a double cannot keep (README: "Debezium consumers").
func dbzPGRow(id int) string {
	return fmt.Sprintf(`(%[1]d, %[1]d, -%[1]d00, %[1]d000000000, %[1]d.25, '-%[1]d.125', %[1]d.5, -%[1]d.25,
  'vc %[1]d ünï', 'c%[1]d', 'text "%[1]d" \ ok', %[2]s, '\x00ff%02[1]x', '2024-02-%02[3]d', '12:34:%02[3]d.123456',
  '2024-02-29 23:59:%02[3]d.654321', '2024-03-10 02:30:%02[3]d.5+00', '1 year 2 mons 3 days 04:05:06.5',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a%02[1]d', '{"k": [1, 2.50, "%[1]d"]}', '{"b": %[1]d, "a": [true, null]}',
  '10.0.0.%[1]d', %[1]d.75, B'1010', B'101', '(%[1]d,2.5)', 'fat cat %[1]d', '<a>%[1]d</a>', '[%[1]d,%[4]d)',
  'happy', %[1]d, ARRAY['a', NULL, 'x%[1]d'], ARRAY[%[1]d, -1])`, id, []string{"true", "false"}[id%2], id%28+1, id+10)
}

// dbzMyTable is one column per MySQL/MariaDB type of the README's type table.
const dbzMyTable = `CREATE TABLE dbz_my (
  id bigint PRIMARY KEY,
  ti tinyint, si smallint, yr year, i int, mi mediumint, iu int unsigned, bi bigint, bu bigint unsigned,
  dec102 decimal(10,2), f float, d double,
  c char(5), vc varchar(40), tx text, e enum('sad','ok','happy'), st set('x','y','z'),
  bn varbinary(8), bl blob,
  dt date, tm time(6), dtm datetime(6), tsp timestamp(6) NULL, js json, bt bit(4)
)`

func dbzMyRow(id int) string {
	return fmt.Sprintf(`(%[1]d, %[1]d, -%[1]d00, %[2]d, %[1]d000000, -%[1]d000, %[1]d, -%[1]d000000000, %[1]d000000000,
  %[1]d.25, %[1]d.5, -%[1]d.25, 'c%[1]d', 'vc %[1]d ünï', 'text "%[1]d" \\ ok', 'happy', 'x,z',
  X'00ff%02[1]x', X'0102%02[1]x', '2024-02-%02[3]d', '12:34:%02[3]d.123456', '2024-02-29 23:59:%02[3]d.654321',
  '2024-03-10 02:30:%02[3]d.5', '{"k": [1, 2.50, "%[1]d"]}', b'1010')`, id, 2000+id, id%28+1)
}

// dbzWorkload runs the streamed changes: inserts, updates, a key change and
// deletes, in a few transactions.
func dbzWorkload(t *testing.T, db *sql.DB, tbl string, rowSQL func(int) string) {
	t.Helper()
	exec := func(qs ...string) {
		t.Helper()
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if _, err := tx.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	exec("INSERT INTO "+tbl+" VALUES "+rowSQL(11)+", "+rowSQL(12)+", "+rowSQL(13),
		"INSERT INTO "+tbl+" VALUES "+rowSQL(14))
	exec("UPDATE "+tbl+" SET vc = 'updated', d = 0.5 WHERE id IN (1, 11)",
		"UPDATE "+tbl+" SET vc = NULL WHERE id = 12")
	exec("UPDATE " + tbl + " SET id = 20 WHERE id = 3")            // a key change (snapshotted row)
	exec("UPDATE "+tbl+" SET id = 21, vc = 'moved' WHERE id = 13", // a key change with another column
		"DELETE FROM "+tbl+" WHERE id = 2")
	exec("DELETE FROM "+tbl+" WHERE id = 14", "INSERT INTO "+tbl+" VALUES "+rowSQL(15))
	exec("UPDATE " + tbl + " SET id = 14 WHERE id = 15") // takes a deleted key again
}

func TestDebeziumJDBCSinkReadsWalshipTopics(t *testing.T) {
	testenv.Integration(t)
	pgSrc, pgFol, mySrc := testenv.PGSource(t), testenv.PGFollower(t), testenv.MySQLSource(t)
	broker := testenv.Kafka(t)
	libs := debeziumLibsT(t)
	ctx := context.Background()
	name := fmt.Sprintf("dbzc_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	dir := t.TempDir()

	// Databases: the two sources, Debezium's target and a walship follower.
	pgExec := func(dsn string, qs ...string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, q := range qs {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	pgDSN := func(server, db string) string { return strings.Replace(server, "/postgres?", "/"+db+"?", 1) }
	pgExec(pgSrc, "CREATE DATABASE "+name)
	pgExec(pgFol, "CREATE DATABASE "+name+"_dbz", "CREATE DATABASE "+name+"_ws")
	myRoot, err := sql.Open("mysql", mySrc)
	if err != nil {
		t.Fatal(err)
	}
	defer myRoot.Close()
	if _, err := myRoot.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("WALSHIP_KEEP_TOPICS") != "1" {
			testenv.DropTopics(t, name+".")
		}
		if conn, err := pgx.Connect(ctx, pgSrc); err == nil {
			conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", name)
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
		if conn, err := pgx.Connect(ctx, pgFol); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+"_dbz WITH (FORCE)")
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+"_ws WITH (FORCE)")
			conn.Close(ctx)
		}
		myRoot.Exec("DROP DATABASE IF EXISTS " + name)
	})
	pgSrcDSN := pgDSN(pgSrc, name)
	pgExec(pgSrcDSN, dbzPGTable, "INSERT INTO dbz_pg VALUES "+dbzPGRow(1)+", "+dbzPGRow(2)+", "+dbzPGRow(3),
		"INSERT INTO dbz_pg (id) VALUES (4)") // a row of NULLs
	pg, err := sql.Open("pgx", pgSrcDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	mySrcDSN := mySrc + name
	my, err := sql.Open("mysql", mySrcDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer my.Close()
	for _, q := range []string{dbzMyTable, "INSERT INTO dbz_my VALUES " + dbzMyRow(1) + ", " + dbzMyRow(2) + ", " + dbzMyRow(3), "INSERT INTO dbz_my (id) VALUES (4)"} {
		if _, err := my.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// walship: both sources, json-schema envelope, default decimal
	// handling, and a walship sink of the same log.
	addr := mySrc[strings.Index(mySrc, "(")+1 : strings.Index(mySrc, ")")]
	sources := fmt.Sprintf(`sources:
  - name: pg
    postgres: { dsn: %q, slot: %s, publication: %s, tables: [public.*], heartbeat_interval: 200ms }
  - name: my
    mysql: { addr: %q, user: root, server_id: %d, flavor: mariadb, tables: [%s.*] }
`, pgSrcDSN, name, name, addr, 30000+os.Getpid()%20000+7, name)
	head := fmt.Sprintf("state_dir: %s\nhttp: { listen: \"off\" }\nshutdown_timeout: 20s\nkafka: { brokers: [%q], topic_prefix: %s, partitions: 3, envelope: json-schema }\n",
		filepath.Join(dir, "state"), broker, name)
	cfgPath := filepath.Join(dir, "walship.yaml")
	writeFile(t, cfgPath, head+sources+fmt.Sprintf("sinks:\n  - { name: ws, from: [pg, my], postgres: { dsn: %q } }\n", pgDSN(pgFol, name+"_ws")))
	// verify's view of Debezium's tables: a "sink" (never run) whose
	// follower is Debezium's database, tables named as the JDBC sink names
	// them (the source table's name, in public).
	verifyPath := filepath.Join(dir, "verify.yaml")
	writeFile(t, verifyPath, head+sources+fmt.Sprintf(`sinks:
  - { name: ws, from: [pg, my], postgres: { dsn: %q } }
  - name: dbz
    from: [pg, my]
    postgres: { dsn: %q }
    tables: { rename: { %s.dbz_my: public.dbz_my } }
`, pgDSN(pgFol, name+"_ws"), pgDSN(pgFol, name+"_dbz"), name))

	logf, err := os.Create(filepath.Join(dir, "walship.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command(binary, "run", "-c", cfgPath)
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Signal(syscall.SIGTERM); daemon.Wait(); logf.Close() })
	walshipLog := func() string { b, _ := os.ReadFile(filepath.Join(dir, "walship.log")); return tail(string(b), 4000) }

	// Debezium's JDBC sink in Kafka Connect standalone.
	fol, _ := url.Parse(pgFol)
	folPass, _ := fol.User.Password()
	rest := freePort(t)
	worker := writeFile(t, filepath.Join(dir, "connect-worker.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
listeners=http://%s
`, broker, filepath.Join(dir, "connect.offsets"), rest))
	sinkName := name + "-jdbc"
	sink := writeFile(t, filepath.Join(dir, "jdbc-sink.properties"), fmt.Sprintf(`name=%s
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics.regex=%s\.(pg|my)\.[^.]+\.dbz_(pg|my)
connection.url=jdbc:postgresql://%s:%s/%s_dbz
connection.username=%s
connection.password=%s
insert.mode=upsert
primary.key.mode=record_key
delete.enabled=true
schema.evolution=basic
collection.name.format=${source.table}
consumer.override.auto.offset.reset=earliest
`, sinkName, name, fol.Hostname(), fol.Port(), name, fol.User.Username(), folPass))
	connectLog := filepath.Join(dir, "connect.log")
	logCfg := writeFile(t, filepath.Join(dir, "connect-log4j2.properties"), fmt.Sprintf(`status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = %s
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
`, connectLog))
	out, err := os.Create(filepath.Join(dir, "connect.stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	connect := exec.Command("java", "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+logCfg, "-cp", filepath.Join(libs, "*"),
		"org.apache.kafka.connect.cli.ConnectStandalone", worker, sink)
	connect.Stdout, connect.Stderr = out, out
	if err := connect.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { connect.Wait(); out.Close(); close(exited) }()
	t.Cleanup(func() {
		connect.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			connect.Process.Kill()
			<-exited
		}
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		kc := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 20 * time.Second}
		kc.DeleteGroups(cctx, &kafkago.DeleteGroupsRequest{GroupIDs: []string{"connect-" + sinkName}})
		if t.Failed() {
			b, _ := os.ReadFile(connectLog)
			os.WriteFile(filepath.Join(os.TempDir(), name+"-connect.log"), b, 0o644)
			t.Logf("Kafka Connect's log kept in %s", filepath.Join(os.TempDir(), name+"-connect.log"))
		}
	})
	connectTail := func() string { return dbzLogProblems(connectLog) }
	// checkConnect fails the test on a failed connector or task.
	checkConnect := func() (running bool) {
		select {
		case <-exited:
			t.Fatalf("Kafka Connect exited\n%s", connectTail())
		default:
		}
		code, body, err := get("http://" + rest + "/connectors/" + sinkName + "/status")
		if err != nil || code != 200 {
			return false
		}
		var st struct {
			Connector struct{ State, Trace string }   `json:"connector"`
			Tasks     []struct{ State, Trace string } `json:"tasks"`
		}
		if json.Unmarshal([]byte(body), &st) != nil {
			return false
		}
		if st.Connector.State == "FAILED" {
			t.Fatalf("Debezium's JDBC sink failed: %s\n%s", st.Connector.Trace, connectTail())
		}
		for _, task := range st.Tasks {
			if task.State == "FAILED" {
				t.Fatalf("Debezium's JDBC sink task failed: %.3000s\n%s", task.Trace, connectTail())
			}
		}
		return st.Connector.State == "RUNNING" && len(st.Tasks) > 0 && st.Tasks[0].State == "RUNNING"
	}

	// The streamed changes, once both snapshots are in (the walship sink
	// holds every snapshot row).
	ws, err := sql.Open("pgx", pgDSN(pgFol, name+"_ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitFor(t, 3*time.Minute, func() bool {
		checkConnect()
		var n int
		return ws.QueryRow(fmt.Sprintf(`SELECT (SELECT count(*) FROM public.dbz_pg) + (SELECT count(*) FROM %q.dbz_my)`, name)).Scan(&n) == nil && n == 8
	}, func() string { return "the walship sink never held both snapshots\n" + walshipLog() })
	dbzWorkload(t, pg, "dbz_pg", dbzPGRow)
	dbzWorkload(t, my, "dbz_my", dbzMyRow)

	cfg, err := config.Load(verifyPath)
	if err != nil {
		t.Fatal(err)
	}
	compare := func(sink string) (*verify.Report, error) {
		vctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return verify.Run(vctx, cfg, verify.Options{Sink: sink, MaxListed: 20, ShowValues: true})
	}
	var rep *verify.Report
	for _, sink := range []string{"ws", "dbz"} {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			if sink == "dbz" {
				checkConnect()
			}
			rep, err = compare(sink)
			if err == nil && rep.Differences() == 0 {
				break
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				if rep != nil {
					rep.Print(&b)
				}
				t.Fatalf("sink %s never equal to the sources (err %v):\n%s\nwalship:\n%s\nKafka Connect:\n%s", sink, err, b.String(), walshipLog(), connectTail())
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("%s equals the sources", sink)
	}
	// The events as Debezium's connectors send them (REPLICA IDENTITY
	// DEFAULT on PostgreSQL, a FULL row image on MariaDB).
	for _, c := range []struct {
		topic      string
		fullBefore bool
	}{{name + ".pg.public.dbz_pg", false}, {name + ".my." + name + ".dbz_my", true}} {
		got := dbzEvents(t, broker, c.topic, c.fullBefore)
		want := "r=4 c=8 u=3 d=5 tombstones=5 newkey=3 oldkey=3"
		if got != want {
			t.Errorf("%s: events %s, want %s", c.topic, got, want)
		}
	}
	if !checkConnect() {
		t.Errorf("Debezium's JDBC sink is not running\n%s", connectTail())
	}
	if p := dbzLogProblems(connectLog); strings.Contains(p, "ERROR") {
		t.Errorf("Kafka Connect logged errors:\n%s", p)
	}
}

// dbzEvents reads every record of topic and counts them as "r=… c=… u=…
// d=… tombstones=… newkey=… oldkey=…" (the key-change headers). It checks
// Debezium's before images: an update's is null unless the source sends
// full images (fullBefore), a delete's holds the key, and without full
// images nothing else.
func dbzEvents(t *testing.T, broker, topic string, fullBefore bool) string {
	t.Helper()
	parts, err := kafka.Partitions(context.Background(), []string{broker}, kafka.Security{}, 10*time.Second, topic)
	if err != nil || parts == 0 {
		t.Fatalf("topic %s: %d partitions, %v", topic, parts, err)
	}
	n := map[string]int{}
	for p := range parts {
		conn, err := kafkago.DialLeader(context.Background(), "tcp", broker, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		if err != nil {
			t.Fatal(err)
		}
		conn.Seek(first, kafkago.SeekAbsolute)
		for off := first; off < last; off++ {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			m, err := conn.ReadMessage(64 << 20)
			if err != nil {
				t.Fatal(err)
			}
			off = m.Offset
			for _, h := range m.Headers {
				switch h.Key {
				case "__debezium.newkey":
					n["newkey"]++
				case "__debezium.oldkey":
					n["oldkey"]++
				}
				if len(h.Value) > 0 && (h.Value[0] == '{' || h.Value[0] == '[') {
					t.Errorf("%s/%d@%d: header %s is a JSON object or array", topic, p, m.Offset, h.Key)
				}
			}
			if m.Value == nil {
				n["tombstones"]++
				continue
			}
			var env struct {
				Payload struct {
					Op     string                     `json:"op"`
					Before map[string]json.RawMessage `json:"before"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(m.Value, &env); err != nil {
				t.Fatalf("%s/%d@%d: %v", topic, p, m.Offset, err)
			}
			op, before := env.Payload.Op, env.Payload.Before
			n[op]++
			switch {
			case op == "u" && !fullBefore && before != nil:
				t.Errorf("%s/%d@%d: an update's before is not null under REPLICA IDENTITY DEFAULT", topic, p, m.Offset)
			case op == "u" && fullBefore && before == nil:
				t.Errorf("%s/%d@%d: an update's before is null from a full row image", topic, p, m.Offset)
			case op == "d" && string(before["id"]) == "" || op == "d" && string(before["id"]) == "null":
				t.Errorf("%s/%d@%d: a delete's before lacks the key", topic, p, m.Offset)
			case op == "d" && !fullBefore:
				for k, v := range before {
					if k != "id" && string(v) != "null" {
						t.Errorf("%s/%d@%d: a delete's before holds %s = %s, not only the key", topic, p, m.Offset, k, v)
					}
				}
			}
		}
		conn.Close()
	}
	return fmt.Sprintf("r=%d c=%d u=%d d=%d tombstones=%d newkey=%d oldkey=%d", n["r"], n["c"], n["u"], n["d"], n["tombstones"], n["newkey"], n["oldkey"])
}

// dbzLogProblems is the ERROR lines of Connect's log (with the start of
// their traces) and its last lines.
func dbzLogProblems(path string) string {
	data, _ := os.ReadFile(path)
	var out strings.Builder
	lines := strings.Split(string(data), "\n")
	n := 0
	for i, l := range lines {
		if strings.Contains(l, "] ERROR ") && n < 10 {
			n++
			for j := i; j < len(lines) && j < i+12; j++ {
				fmt.Fprintf(&out, "%.800s\n", lines[j])
			}
		}
	}
	return out.String()
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitFor(t *testing.T, d time.Duration, ok func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(why())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// debeziumLibsT is the folder of Debezium's and Kafka Connect's jars:
// $WALSHIP_DEBEZIUM_LIBS, or what deploy/bench/debezium/fetch.sh resolves
// (into its cache, once).
func debeziumLibsT(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is not on PATH: Kafka Connect needs a JDK 17 (make env-up installs it)")
	}
	dir := os.Getenv("WALSHIP_DEBEZIUM_LIBS")
	if dir == "" {
		out, err := exec.Command("bash", "../../deploy/bench/debezium/fetch.sh").Output()
		if err != nil {
			t.Fatalf("deploy/bench/debezium/fetch.sh: %v", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, jar := range []string{"connect-runtime-*.jar", "debezium-connector-jdbc-*.jar", "postgresql-*.jar"} {
		if m, _ := filepath.Glob(filepath.Join(dir, jar)); len(m) == 0 {
			t.Fatalf("Debezium jars missing: no %s in %s (deploy/bench/debezium/fetch.sh resolves them)", jar, dir)
		}
	}
	return dir
}
