package mysql

import "testing"

func TestParseTxnStmt(t *testing.T) {
	for _, c := range []struct {
		q    string
		want txnStmt
	}{
		{"BEGIN", txnStmt{kind: stmtBegin}},
		{" begin ", txnStmt{kind: stmtBegin}},
		{"BEGIN WORK;", txnStmt{kind: stmtBegin}},
		{"START TRANSACTION READ ONLY", txnStmt{kind: stmtBegin}},
		{"COMMIT", txnStmt{kind: stmtCommit}},
		{"commit /* done */", txnStmt{kind: stmtCommit}},
		{"ROLLBACK", txnStmt{kind: stmtRollback}},
		{"rollback work", txnStmt{kind: stmtRollback}},
		// As MariaDB writes them.
		{"SAVEPOINT `s1`", txnStmt{kind: stmtSavepoint, name: "s1"}},
		{"ROLLBACK TO `s1`", txnStmt{kind: stmtRollbackTo, name: "s1"}},
		{"SAVEPOINT `we``ird`", txnStmt{kind: stmtSavepoint, name: "we`ird"}},
		{"SAVEPOINT `s 2`", txnStmt{kind: stmtSavepoint, name: "s 2"}},
		// As a user or another server might.
		{"savepoint s1", txnStmt{kind: stmtSavepoint, name: "s1"}},
		{"/* x */ SAVEPOINT /* y */ s1 ;", txnStmt{kind: stmtSavepoint, name: "s1"}},
		{"SAVEPOINT\n\t`ünï`", txnStmt{kind: stmtSavepoint, name: "ünï"}},
		{"SAVEPOINT ünï", txnStmt{kind: stmtSavepoint, name: "ünï"}},
		{"-- c\nSAVEPOINT s1 # end", txnStmt{kind: stmtSavepoint, name: "s1"}},
		{"Rollback Work To Savepoint sp_9", txnStmt{kind: stmtRollbackTo, name: "sp_9"}},
		{"ROLLBACK TO SAVEPOINT", txnStmt{kind: stmtRollbackTo, name: "SAVEPOINT"}}, // a savepoint named savepoint
		{"ROLLBACK TO SAVEPOINT `SAVEPOINT`", txnStmt{kind: stmtRollbackTo, name: "SAVEPOINT"}},
		{"RELEASE SAVEPOINT `s1`", txnStmt{kind: stmtRelease, name: "s1"}},
		{"release  savepoint\ns1", txnStmt{kind: stmtRelease, name: "s1"}},
		{"XA START X'7831',X'',1", txnStmt{kind: stmtXA, xa: "START"}},
		{"xa commit 'x' one phase", txnStmt{kind: stmtXA, xa: "COMMIT"}},
		{"XA END X'7831',X'',1", txnStmt{kind: stmtXA, xa: "END"}},
		// CREATE TABLE, which CREATE TABLE ... SELECT writes inside its transaction.
		{"CREATE TABLE `ctas` (\n  `id` int(11) NOT NULL\n)", txnStmt{kind: stmtCreateTable}},
		{"create or replace table t (a int, b int, c int, d int, e int, f int, g int, h int)", txnStmt{kind: stmtCreateTable}},
		{"/* c */ CREATE TEMPORARY TABLE t (id int)", txnStmt{kind: stmtCreateTable}},
		{"CREATE OR TABLE t (id int)", txnStmt{}},
		{"CREATE INDEX i ON t (a)", txnStmt{}},
		{"CREATE TABLE `unterminated", txnStmt{}},
		// Not transaction control.
		{"", txnStmt{}},
		{"/* only a comment */", txnStmt{}},
		{"ALTER TABLE t ADD COLUMN savepoint int", txnStmt{}},
		{"BEGIN NOT ATOMIC SELECT 1; END", txnStmt{}},
		{"SAVEPOINT", txnStmt{}},
		{"SAVEPOINT a b", txnStmt{}},
		{"SAVEPOINT a.b", txnStmt{}},
		{"SAVEPOINT 'a'x", txnStmt{}},
		{"SAVEPOINT `unterminated", txnStmt{}},
		{"SAVEPOINT s1; DROP TABLE t", txnStmt{}},
		{"/*!99999 SAVEPOINT s1 */", txnStmt{}},
		{"/* unterminated SAVEPOINT s1", txnStmt{}},
		{"ROLLBACK TO", txnStmt{}},
		{"RELEASE s1", txnStmt{}},
		{"COMMIT AND CHAIN x y", txnStmt{}},
		{"XA", txnStmt{}},
	} {
		if got := parseTxnStmt(c.q); got != c.want {
			t.Errorf("parseTxnStmt(%q) = %+v, want %+v", c.q, got, c.want)
		}
	}
}

func TestStmtVerb(t *testing.T) {
	for q, want := range map[string]string{
		"insert into a values (1)":     "INSERT",
		"/* c */ UPDATE a SET v = 'x'": "UPDATE",
		"'secret' something":           "unparsed",
		"/*!40000 ALTER TABLE t */":    "unparsed",
		"":                             "unparsed",
		"(SELECT 1)":                   "unparsed",
	} {
		if got := stmtVerb(q); got != want {
			t.Errorf("stmtVerb(%q) = %q, want %q", q, got, want)
		}
	}
}

// TestMayTouchCaptured: only a statement that cannot concern a captured
// table is skipped inside a transaction.
func TestMayTouchCaptured(t *testing.T) {
	for _, c := range []struct {
		patterns      []string
		schema, query string
		want          bool
	}{
		{[]string{"shop.*"}, "shop", "UPDATE t SET v = 1", true},
		{[]string{"shop.*"}, "other", "UPDATE t SET v = 1", false},
		{[]string{"shop.*"}, "other", "UPDATE Shop.t SET v = 1", true},
		{[]string{"shop.orders"}, "", "INSERT INTO `shop`.`orders` VALUES (1)", true},
		{[]string{"*.orders"}, "other", "UPDATE t SET v = 1", true},
	} {
		if got := mayTouchCaptured(c.patterns, c.schema, c.query); got != c.want {
			t.Errorf("%v %q %q: %v", c.patterns, c.schema, c.query, got)
		}
	}
}
