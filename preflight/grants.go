package preflight

import (
	"strings"
)

// grants is what SHOW GRANTS FOR CURRENT_USER() says a MySQL or MariaDB
// user holds. Privilege names are upper case with single spaces; "ALL"
// stands for ALL PRIVILEGES. Privileges granted through roles are not
// expanded (viaRoles tells that some exist).
type grants struct {
	global   map[string]bool
	dbs      []dbGrant
	tables   []tableGrant
	viaRoles bool
}

// dbGrant is a grant ON `db`.*; db is a LIKE pattern, as MySQL stores it.
type dbGrant struct {
	db    string
	privs map[string]bool
}

// tableGrant is a grant ON `db`.`table`.
type tableGrant struct {
	db, table string
	privs     map[string]bool
}

// privAliases maps the names a server may print to one canonical name.
var privAliases = map[string]string{
	"ALL PRIVILEGES":      "ALL",
	"REPLICATION REPLICA": "REPLICATION SLAVE",
}

// parseGrants reads the rows of SHOW GRANTS. Lines it does not understand
// (PROXY, routines) are skipped: they grant nothing walship needs. The rows
// may hold password hashes; nothing of a row is ever copied to a message.
func parseGrants(rows []string) grants {
	g := grants{global: map[string]bool{}}
	for _, row := range rows {
		privs, object, ok := splitGrant(row)
		if !ok {
			continue
		}
		if object == "" {
			g.viaRoles = true
			continue
		}
		db, table, ok := parseObject(object)
		if !ok {
			continue
		}
		set := map[string]bool{}
		for _, p := range privs {
			set[p] = true
		}
		switch {
		case db == "*" && table == "*":
			for p := range set {
				g.global[p] = true
			}
		case table == "*":
			g.dbs = append(g.dbs, dbGrant{db: db, privs: set})
		default:
			g.tables = append(g.tables, tableGrant{db: db, table: table, privs: set})
		}
	}
	return g
}

// splitGrant splits "GRANT <privs> ON <object> TO <user> ..." into the
// privileges and the object. A role grant ("GRANT `r` TO `u`@`h`") returns
// ok with an empty object. Column privileges ("SELECT (a, b)") are dropped:
// they do not cover a whole table.
func splitGrant(row string) (privs []string, object string, ok bool) {
	row = strings.TrimSpace(row)
	if len(row) < 6 || !strings.EqualFold(row[:6], "GRANT ") {
		return nil, "", false
	}
	rest := row[6:]
	on := indexTopLevel(rest, " ON ")
	to := indexTopLevel(rest, " TO ")
	if to < 0 {
		return nil, "", false
	}
	if on < 0 || on > to {
		return nil, "", true // role grant
	}
	for _, p := range splitTopLevel(rest[:on], ',') {
		p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
		if p == "" || strings.Contains(p, "(") {
			continue
		}
		if a, ok := privAliases[p]; ok {
			p = a
		}
		privs = append(privs, p)
	}
	return privs, strings.TrimSpace(rest[on+4 : to]), true
}

// parseObject reads `db`.`table`, db.*, *.* or TABLE db.t. Routine grants
// (FUNCTION, PROCEDURE, PACKAGE) and a bare * report false.
func parseObject(s string) (db, table string, ok bool) {
	if kw, rest, found := strings.Cut(s, " "); found && !strings.HasPrefix(s, "`") {
		switch strings.ToUpper(kw) {
		case "TABLE":
			s = strings.TrimSpace(rest)
		default:
			return "", "", false
		}
	}
	db, rest, ok := readIdent(s)
	if !ok || !strings.HasPrefix(rest, ".") {
		return "", "", false
	}
	table, rest, ok = readIdent(rest[1:])
	if !ok || strings.TrimSpace(rest) != "" {
		return "", "", false
	}
	return db, table, true
}

// readIdent reads one identifier: backquoted (a doubled backquote inside
// stands for one), plain, or *.
func readIdent(s string) (ident, rest string, ok bool) {
	if strings.HasPrefix(s, "`") {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '`' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		return "", "", false
	}
	end := strings.IndexAny(s, ". ")
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", "", false
	}
	return s[:end], s[end:], true
}

// indexTopLevel finds sep (case-insensitive) outside quotes and parentheses.
func indexTopLevel(s, sep string) int {
	depth, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && len(s)-i >= len(sep) && strings.EqualFold(s[i:i+len(sep)], sep):
			return i
		}
	}
	return -1
}

// splitTopLevel splits s at sep outside quotes and parentheses.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// hasGlobal reports whether priv (or ALL) is held ON *.*.
func (g grants) hasGlobal(priv string) bool { return g.global["ALL"] || g.global[priv] }

// hasOn reports whether priv covers the tables a schema.table pattern (with
// * wildcards) names: globally, on the schema, or (for a plain table name)
// on that table.
func (g grants) hasOn(priv, pattern string) bool {
	if g.hasGlobal(priv) {
		return true
	}
	schema, table, ok := strings.Cut(pattern, ".")
	if !ok || strings.Contains(schema, "*") {
		return false
	}
	for _, d := range g.dbs {
		if (d.privs["ALL"] || d.privs[priv]) && likeMatch(d.db, schema) {
			return true
		}
	}
	if strings.Contains(table, "*") {
		return false
	}
	for _, t := range g.tables {
		if (t.privs["ALL"] || t.privs[priv]) && t.db == schema && t.table == table {
			return true
		}
	}
	return false
}

// likeMatch matches s against a MySQL grant database pattern: % is any
// run, _ any one character, and a backslash makes the next one literal.
func likeMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch c := pattern[0]; {
	case c == '%':
		for i := 0; i <= len(s); i++ {
			if likeMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case c == '\\' && len(pattern) > 1:
		return s != "" && s[0] == pattern[1] && likeMatch(pattern[2:], s[1:])
	case c == '_':
		return s != "" && likeMatch(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == c && likeMatch(pattern[1:], s[1:])
	}
}
