package mysql

import (
	"strings"
)

// stmtKind classifies the statement of a binlog QUERY_EVENT by what it
// does to the transaction it may be part of.
type stmtKind int

const (
	// stmtOther is any statement that does not control transactions: DDL,
	// TRUNCATE, a statement-format DML, and whatever cannot be parsed.
	stmtOther stmtKind = iota
	stmtBegin
	stmtCommit
	// stmtRollback ends the group and discards it (the server writes it
	// after changes of a transaction that also touched a
	// non-transactional table and then rolled back).
	stmtRollback
	stmtSavepoint  // SAVEPOINT name
	stmtRollbackTo // ROLLBACK [WORK] TO [SAVEPOINT] name
	stmtRelease    // RELEASE SAVEPOINT name
	// stmtXA is any XA statement; txnStmt.xa holds its verb (START, END,
	// PREPARE, COMMIT, ROLLBACK, ...).
	stmtXA
	// stmtCreateTable is CREATE [OR REPLACE] [TEMPORARY] TABLE. MariaDB
	// writes CREATE TABLE ... SELECT as a transaction: the CREATE TABLE,
	// then the rows it copied.
	stmtCreateTable
)

// txnStmt is a parsed transaction-control statement.
type txnStmt struct {
	kind stmtKind
	name string // savepoint name, unquoted (stmtSavepoint, stmtRollbackTo, stmtRelease)
	xa   string // XA verb, upper case (stmtXA)
}

// parseTxnStmt recognises the transaction-control statements the server
// writes into the binlog as QUERY_EVENTs: BEGIN, COMMIT, ROLLBACK,
// SAVEPOINT, ROLLBACK TO, RELEASE SAVEPOINT and XA. Keywords are matched
// without regard to case; comments and whitespace between tokens are
// skipped; a savepoint name may be backquoted (with “ for a backquote).
// Anything else, or anything malformed, is stmtOther.
func parseTxnStmt(q string) txnStmt {
	toks, ok := sqlTokens(q, 16)
	if len(toks) > 16 && isCreateTable(toks) { // only its first tokens matter
		return txnStmt{kind: stmtCreateTable}
	}
	if !ok || len(toks) == 0 {
		return txnStmt{}
	}
	if isCreateTable(toks) {
		return txnStmt{kind: stmtCreateTable}
	}
	kw := func(i int, words ...string) bool {
		if i >= len(toks) || toks[i].quoted {
			return false
		}
		for _, w := range words {
			if strings.EqualFold(toks[i].text, w) {
				return true
			}
		}
		return false
	}
	// name is the savepoint name at toks[i], which must end the statement.
	name := func(i int, kind stmtKind) txnStmt {
		if i != len(toks)-1 || toks[i].text == "" || (!toks[i].quoted && !isIdent(toks[i].text)) {
			return txnStmt{}
		}
		return txnStmt{kind: kind, name: toks[i].text}
	}
	switch {
	case kw(0, "BEGIN"):
		if len(toks) == 1 || (len(toks) == 2 && kw(1, "WORK")) {
			return txnStmt{kind: stmtBegin}
		}
	case kw(0, "START"):
		if kw(1, "TRANSACTION") {
			return txnStmt{kind: stmtBegin}
		}
	case kw(0, "COMMIT"):
		if len(toks) == 1 || (len(toks) == 2 && kw(1, "WORK")) {
			return txnStmt{kind: stmtCommit}
		}
	case kw(0, "ROLLBACK"):
		i := 1
		if kw(i, "WORK") {
			i++
		}
		if i == len(toks) {
			return txnStmt{kind: stmtRollback}
		}
		if kw(i, "TO") {
			i++
			if kw(i, "SAVEPOINT") && i+1 < len(toks) {
				i++
			}
			return name(i, stmtRollbackTo)
		}
	case kw(0, "SAVEPOINT"):
		return name(1, stmtSavepoint)
	case kw(0, "RELEASE"):
		if kw(1, "SAVEPOINT") {
			return name(2, stmtRelease)
		}
	case kw(0, "XA"):
		if len(toks) > 1 && !toks[1].quoted {
			return txnStmt{kind: stmtXA, xa: strings.ToUpper(toks[1].text)}
		}
	}
	return txnStmt{}
}

// isCreateTable reports whether toks start CREATE [OR REPLACE]
// [TEMPORARY] TABLE.
func isCreateTable(toks []sqlToken) bool {
	kw := func(i int, w string) bool {
		return i < len(toks) && !toks[i].quoted && strings.EqualFold(toks[i].text, w)
	}
	if !kw(0, "CREATE") {
		return false
	}
	i := 1
	if kw(i, "OR") {
		if !kw(i+1, "REPLACE") {
			return false
		}
		i += 2
	}
	if kw(i, "TEMPORARY") {
		i++
	}
	return kw(i, "TABLE")
}

type sqlToken struct {
	text   string
	quoted bool // a backquoted identifier (text is unquoted) or a string literal
}

// sqlTokens splits the first max tokens of q. Words are runs of
// identifier characters; `...` is an identifier and '...' or "..." a
// string (both with their quotes removed); any other character is a token
// of its own. Comments (/* */, -- and #) and whitespace separate tokens; a
// trailing ; is dropped. An executable comment (/*! or /*M!), an
// unterminated quote or comment, or more than max tokens is not ok:
// such a statement is not one of the few parseTxnStmt knows. With more
// than max tokens, the first max+1 are returned.
func sqlTokens(q string, max int) ([]sqlToken, bool) {
	var toks []sqlToken
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(q[i:], "/*"):
			if strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!") {
				return nil, false
			}
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, false
			}
			i += 2 + end + 2
		case c == '#' || (strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || strings.ContainsRune(" \t\n\r", rune(q[i+2])))):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				i = len(q)
			} else {
				i += end + 1
			}
		case c == '`' || c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(q) {
					return nil, false
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				if q[j] == '\\' && c != '`' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
				j++
			}
			toks = append(toks, sqlToken{text: b.String(), quoted: true})
			i = j + 1
		case identByte(c):
			j := i
			for j < len(q) && identByte(q[j]) {
				j++
			}
			toks = append(toks, sqlToken{text: q[i:j]})
			i = j
		case c == ';':
			// Only whitespace and comments may follow.
			rest, ok := sqlTokens(q[i+1:], 1)
			if !ok || len(rest) > 0 {
				return nil, false
			}
			return toks, true
		default:
			toks = append(toks, sqlToken{text: q[i : i+1]})
			i++
		}
		if len(toks) > max {
			return toks, false
		}
	}
	return toks, true
}

// identByte reports whether c may be part of an unquoted identifier:
// ASCII letters, digits, $ and _, and every byte of a multi-byte UTF-8
// character.
func identByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !identByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// stmtVerb names the statement q by its first keyword, upper case, and
// nothing else of it (never a value); "unparsed" when it has none.
func stmtVerb(q string) string {
	toks, _ := sqlTokens(q, 1)
	if len(toks) == 0 || toks[0].quoted || !isIdent(toks[0].text) || len(toks[0].text) > 32 {
		return "unparsed"
	}
	return strings.ToUpper(toks[0].text)
}
