package verify

import (
	"reflect"
	"strings"
	"testing"
)

// TestDigestMatchesSQL: the Go checksum frames rows exactly as the SQL
// checksums do. The hash was computed by PostgreSQL 15 and MariaDB 10.11
// with rowHashSQL's expressions over (id int, v text) rows (1,'a'),
// (2,NULL), (3, the empty string), (4,'NULL'), (5,'héllo').
func TestDigestMatchesSQL(t *testing.T) {
	d := newDigest()
	for _, r := range [][2]string{{"1", "a"}, {"2", ""}, {"3", ""}, {"4", "NULL"}, {"5", "héllo"}} {
		d.add(r[:], []bool{true, r[0] != "2"})
	}
	if got, want := d.sum(), (chunkSum{rows: 5, hash: "a6a38c1ffc3ef48b983b24bae3aed765"}); got != want {
		t.Errorf("digest %+v, want %+v", got, want)
	}
	if newDigest().sum() != (chunkSum{}) {
		t.Error("an empty chunk sums to no hash, as SQL's NULL aggregate")
	}
}

func TestDigestFraming(t *testing.T) {
	sum := func(vals []string, valid []bool) chunkSum {
		d := newDigest()
		d.add(vals, valid)
		return d.sum()
	}
	seen := map[string]string{}
	for name, r := range map[string]struct {
		vals  []string
		valid []bool
	}{
		"NULL":        {[]string{""}, []bool{false}},
		"empty":       {[]string{""}, []bool{true}},
		"text NULL":   {[]string{"NULL"}, []bool{true}},
		"text N":      {[]string{"N"}, []bool{true}},
		"ab|c":        {[]string{"ab", "c"}, []bool{true, true}},
		"a|bc":        {[]string{"a", "bc"}, []bool{true, true}},
		"1:a as text": {[]string{"1:a"}, []bool{true}},
		"a":           {[]string{"a"}, []bool{true}},
	} {
		h := sum(r.vals, r.valid).hash
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s hash alike", name, other)
		}
		seen[h] = name
	}
}

func TestChunkSumMatches(t *testing.T) {
	a := chunkSum{rows: 2, hash: "x"}
	if !a.matches(a) || a.matches(chunkSum{rows: 3, hash: "x"}) || a.matches(chunkSum{rows: 2, hash: "y"}) {
		t.Error("matches")
	}
	if p := (chunkSum{rows: 2, hash: "x", partial: true}); p.matches(p) || a.matches(p) {
		t.Error("a partial sum matches nothing")
	}
	if !(chunkSum{}).matches(chunkSum{}) {
		t.Error("two empty chunks match")
	}
}

func placeholders(vals ...string) func(int) string {
	return func(i int) string { return vals[i] }
}

func TestKeyCond(t *testing.T) {
	for _, c := range []struct {
		engine string
		cols   []string
		op     string
		want   string
	}{
		{"postgres", []string{"t.a"}, ">", "t.a > $1"},
		{"postgres", []string{`t.a COLLATE "C"`, "t.b"}, "<=", `(t.a COLLATE "C", t.b) <= ($1, $2)`},
		{"mysql", []string{"t.a", "t.b"}, ">", "((t.a > ?) OR (t.a = ? AND t.b > ?))"},
		{"mysql", []string{"t.a", "t.b", "t.c"}, "<=", "((t.a < ?) OR (t.a = ? AND t.b < ?) OR (t.a = ? AND t.b = ? AND t.c <= ?))"},
	} {
		val := placeholders("$1", "$2", "$3")
		if c.engine == "mysql" {
			val = placeholders("?", "?", "?")
		}
		if got := keyCond(c.engine, c.cols, val, c.op); got != c.want {
			t.Errorf("%s %v %s:\n got %s\nwant %s", c.engine, c.cols, c.op, got, c.want)
		}
	}
}

// mysqlSide is a MySQL side keyed by (id bigint, name varchar, amount decimal(12,2)).
func mysqlSide() *side {
	return &side{label: "follower", engine: "mysql", table: "`t1`",
		exprs: []string{"`id`", "`name`", "`amount`", "`v`"},
		kinds: []Kind{KindInt, KindText, KindDecimal, KindText},
		order: []string{"t.`id`", "CAST(t.`name` AS BINARY)", "t.`amount`"},
		bound: []string{"`id`", "`name`", "`amount`"},
		param: []keyParam{newKeyParam("mysql", "bigint", KindInt), newKeyParam("mysql", "varchar(10)", KindText),
			newKeyParam("mysql", "decimal(12,2)", KindDecimal)},
	}
}

func TestRangeCondMySQL(t *testing.T) {
	s := mysqlSide()
	a := &sqlArgs{engine: "mysql"}
	cond, err := s.rangeCond(chunk{lo: []string{"9007199254740993", "é", "1.50"}, hi: []string{"18446744073709551615", "b", "2"}}, a)
	if err != nil {
		t.Fatal(err)
	}
	want := "((t.`id` > ?) OR (t.`id` = ? AND CAST(t.`name` AS BINARY) > ?) OR " +
		"(t.`id` = ? AND CAST(t.`name` AS BINARY) = ? AND t.`amount` > CAST(? AS DECIMAL(12,2)))) AND " +
		"((t.`id` < ?) OR (t.`id` = ? AND CAST(t.`name` AS BINARY) < ?) OR " +
		"(t.`id` = ? AND CAST(t.`name` AS BINARY) = ? AND t.`amount` <= CAST(? AS DECIMAL(12,2))))"
	if cond != want {
		t.Errorf("cond\n got %s\nwant %s", cond, want)
	}
	if strings.Count(cond, "?") != len(a.vals) {
		t.Fatalf("%d placeholders, %d args", strings.Count(cond, "?"), len(a.vals))
	}
	lo, hi := int64(9007199254740993), uint64(18446744073709551615)
	wantArgs := []any{lo, lo, "é", lo, "é", "1.50", hi, hi, "b", hi, "b", "2"}
	if !reflect.DeepEqual(a.vals, wantArgs) {
		t.Errorf("args %#v, want %#v", a.vals, wantArgs)
	}
	if _, err := s.rangeCond(chunk{lo: []string{"x", "a", "1"}}, &sqlArgs{engine: "mysql"}); err == nil {
		t.Error("a non-integer bound of an integer key must fail")
	}
	if cond, err := s.rangeCond(chunk{}, &sqlArgs{engine: "mysql"}); err != nil || cond != "1=1" {
		t.Errorf("whole table: %q, %v", cond, err)
	}
}

func TestChunkSQLPostgres(t *testing.T) {
	s := &side{label: "source", engine: "postgres", table: `"public"."t1"`,
		exprs: []string{`"k"::text`, `encode("b", 'hex')`, `"v"::text`},
		kinds: []Kind{KindText, KindBytes, KindText},
		order: []string{`t."k" COLLATE "C"`, `t."b"`},
		bound: []string{`"k"::text`, `encode("b", 'hex')`},
		param: []keyParam{newKeyParam("postgres", "text", KindText), newKeyParam("postgres", "bytea", KindBytes)},
	}
	q, args, err := s.upperBoundSQL([]string{"a", "00ff"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "k"::text AS b0, encode("b", 'hex') AS b1 FROM "public"."t1" AS t WHERE (t."k" COLLATE "C", t."b") > ($1, decode($2, 'hex')) ORDER BY t."k" COLLATE "C", t."b" LIMIT 2 OFFSET 999`
	if q != want || !reflect.DeepEqual(args, []any{"a", "00ff"}) {
		t.Errorf("bound\n got %s %v\nwant %s", q, args, want)
	}
	q, _, err = s.upperBoundSQL(nil, 1)
	if err != nil || !strings.Contains(q, " WHERE 1=1 ") || !strings.HasSuffix(q, " LIMIT 2 OFFSET 0") {
		t.Errorf("first bound: %s %v", q, err)
	}
	q, args, err = s.rowsSQL(chunk{hi: []string{"z", ""}})
	want = `SELECT "k"::text AS c0, encode("b", 'hex') AS c1, "v"::text AS c2 FROM "public"."t1" AS t WHERE (t."k" COLLATE "C", t."b") <= ($1, decode($2, 'hex')) ORDER BY t."k" COLLATE "C", t."b"`
	if err != nil || q != want || len(args) != 2 {
		t.Errorf("rows\n got %s %v\nwant %s", q, err, want)
	}
	q, args, err = s.sumSQL(chunk{lo: []string{"a", "00"}, hi: []string{"z", ""}})
	want = `SELECT count(*), md5(string_agg(md5(coalesce(octet_length("k"::text)::text || ':' || "k"::text, 'N') || ` +
		`coalesce(octet_length(encode("b", 'hex'))::text || ':' || encode("b", 'hex'), 'N') || ` +
		`coalesce(octet_length("v"::text)::text || ':' || "v"::text, 'N')), '' ORDER BY t."k" COLLATE "C", t."b")) ` +
		`FROM "public"."t1" AS t WHERE (t."k" COLLATE "C", t."b") > ($1, decode($2, 'hex')) AND (t."k" COLLATE "C", t."b") <= ($3, decode($4, 'hex'))`
	if err != nil || q != want || len(args) != 4 {
		t.Errorf("sum\n got %s %v\nwant %s", q, err, want)
	}
}

func TestSumSQLMySQL(t *testing.T) {
	s := mysqlSide()
	q, args, err := s.sumSQL(chunk{hi: []string{"5", "x", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{
		"SELECT COUNT(*), MD5(GROUP_CONCAT(MD5(CONCAT(",
		"COALESCE(CONCAT(LENGTH(CAST(`id` AS BINARY)), ':', CAST(`id` AS BINARY)), 'N')",
		"COALESCE(CONCAT(LENGTH(CAST(CONVERT(`name` USING utf8mb4) AS BINARY)), ':', CAST(CONVERT(`name` USING utf8mb4) AS BINARY)), 'N')",
		" ORDER BY t.`id`, CAST(t.`name` AS BINARY), t.`amount` SEPARATOR '')) FROM `t1` AS t WHERE ",
	} {
		if !strings.Contains(q, part) {
			t.Errorf("sum lacks %s:\n%s", part, q)
		}
	}
	if strings.Count(q, "?") != len(args) {
		t.Errorf("%d placeholders, %d args", strings.Count(q, "?"), len(args))
	}
	if _, _, err := (&side{engine: "sqlite", label: "follower"}).sumSQL(chunk{}); err == nil {
		t.Error("no SQL checksum on SQLite: cross-engine pairs hash in Go")
	}
}

func TestMySQLDecimal(t *testing.T) {
	for typ, want := range map[string]string{"decimal(12,2)": "DECIMAL(12,2)", "decimal(10,0) unsigned": "DECIMAL(10,0)",
		"decimal(7)": "DECIMAL(7)", "numeric": "DECIMAL(65,30)"} {
		if got := mysqlDecimal(typ); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}

// keyRows builds rows of a one-column integer key (and one value column).
func keyRows(kv ...string) []*row {
	var out []*row
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &row{raw: []string{kv[i], kv[i+1]}, cmp: []string{kv[i], kv[i+1]}, valid: []bool{true, true},
			key: []string{kv[i]}})
	}
	return out
}

func keysOf(rows []*row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.key[0])
	}
	return out
}

// TestFollowerStreamTake: the follower's stream splits at each chunk's
// last source key; rows past the last source key go to the last chunk.
func TestFollowerStreamTake(t *testing.T) {
	f := &followerStream{cur: &rowList{rows: keyRows("0", "x", "1", "x", "2", "x", "5", "x", "9", "x", "10", "x", "1000", "x")}, kinds: []Kind{KindInt}}
	for _, c := range []struct {
		c    chunk
		src  []*row
		want []string
	}{
		{chunk{n: 1, hi: []string{"2"}}, keyRows("1", "x", "2", "x"), []string{"0", "1", "2"}},
		{chunk{n: 2, lo: []string{"2"}, hi: []string{"6"}}, nil, nil}, // the source's rows vanished: none taken
		{chunk{n: 3, lo: []string{"6"}, hi: []string{"9"}}, keyRows("9", "x"), []string{"5", "9"}},
		{chunk{n: 4, lo: []string{"9"}}, keyRows("10", "x"), []string{"10", "1000"}},
	} {
		got, err := f.take(c.c, c.src)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(keysOf(got), c.want) {
			t.Errorf("chunk %d: took %v, want %v", c.c.n, keysOf(got), c.want)
		}
	}
}

// TestMergeChunk: a chunk's rows merge into missing, extra and different
// rows; values only with ShowValues.
func TestMergeChunk(t *testing.T) {
	tp := &tablePlan{cols: []Column{{Name: "id", Kind: KindInt}, {Name: "v", Kind: KindText}}, keyNames: []string{"id"},
		keyIdx: []int{0}, keyKinds: []Kind{KindInt}}
	src := keyRows("1", "a", "2", "b", "3", "c")
	fol := keyRows("0", "z", "2", "B", "3", "c", "4", "d")
	var tr TableReport
	if err := tp.merge(&rowList{rows: src}, &rowList{rows: fol}, &tr, Options{MaxListed: 3}); err != nil {
		t.Fatal(err)
	}
	if tr.Missing != 1 || tr.Extra != 2 || tr.Different != 1 || tr.SourceRows != 3 || tr.FollowerRows != 4 {
		t.Errorf("counts %+v", tr)
	}
	want := []Diff{{Kind: "extra", Key: "id=0"}, {Kind: "missing", Key: "id=1"}, {Kind: "different", Key: "id=2", Columns: []ColDiff{{Column: "v"}}}}
	if !reflect.DeepEqual(tr.Diffs, want) {
		t.Errorf("diffs %+v, want %+v (MaxListed 3)", tr.Diffs, want)
	}
	if sumRows(src).matches(sumRows(fol)) || !sumRows(src).matches(sumRows(keyRows("1", "a", "2", "b", "3", "c"))) {
		t.Error("Go checksums")
	}
}
