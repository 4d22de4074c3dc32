package preflight

import (
	"strings"
	"testing"
)

func TestParseGrants(t *testing.T) {
	type check struct {
		priv, pattern string // pattern "" checks the global grant
		want          bool
	}
	cases := []struct {
		name   string
		rows   []string
		roles  bool
		checks []check
	}{
		{
			name: "all privileges",
			rows: []string{
				"GRANT ALL PRIVILEGES ON *.* TO `root`@`127.0.0.1` WITH GRANT OPTION",
				"GRANT PROXY ON ``@`%` TO `root`@`127.0.0.1` WITH GRANT OPTION",
			},
			checks: []check{
				{"REPLICATION SLAVE", "", true}, {"RELOAD", "", true},
				{"SELECT", "shop.*", true}, {"LOCK TABLES", "*.*", true},
			},
		},
		{
			name: "mariadb 10.11 replication user with a password hash",
			rows: []string{
				"GRANT SELECT, RELOAD, LOCK TABLES, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `walship`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'",
			},
			checks: []check{
				{"REPLICATION SLAVE", "", true}, {"BINLOG MONITOR", "", true},
				{"REPLICATION CLIENT", "", false}, {"SELECT", "shop.orders", true},
			},
		},
		{
			name: "mysql 8 dynamic privileges without spaces",
			rows: []string{
				"GRANT SELECT,REPLICATION CLIENT,REPLICATION REPLICA ON *.* TO `cdc`@`%`",
				"GRANT BACKUP_ADMIN,BINLOG_ADMIN ON *.* TO `cdc`@`%`",
			},
			checks: []check{
				{"REPLICATION SLAVE", "", true}, {"REPLICATION CLIENT", "", true},
				{"BINLOG_ADMIN", "", true}, {"RELOAD", "", false},
			},
		},
		{
			name: "only select",
			rows: []string{
				"GRANT USAGE ON *.* TO `ro`@`%` IDENTIFIED BY PASSWORD '*AAAA'",
				"GRANT SELECT ON *.* TO `ro`@`%`",
			},
			checks: []check{
				{"SELECT", "shop.*", true}, {"REPLICATION SLAVE", "", false},
				{"LOCK TABLES", "shop.*", false}, {"RELOAD", "", false},
			},
		},
		{
			name: "database, wildcard database and table grants",
			rows: []string{
				"GRANT USAGE ON *.* TO `u`@`%`",
				"GRANT SELECT, LOCK TABLES ON `shop`.* TO `u`@`%`",
				"GRANT ALL PRIVILEGES ON `crm\\_%`.* TO `u`@`%`",
				"GRANT SELECT ON `hr`.`people` TO `u`@`%`",
				"GRANT SELECT (`id`, `name`) ON `hr`.`salaries` TO `u`@`%`",
				"GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `u`@`%`",
				"GRANT SELECT ON TABLE `ops`.`jobs` TO `u`@`%`",
			},
			checks: []check{
				{"SELECT", "shop.*", true}, {"LOCK TABLES", "shop.orders", true},
				{"SELECT", "crm_eu.*", true}, {"LOCK TABLES", "crm_eu.t", true},
				{"SELECT", "crmXeu.*", false}, // \_ is a literal underscore
				{"SELECT", "hr.people", true}, {"SELECT", "hr.*", false},
				{"SELECT", "hr.salaries", false}, // column grants do not cover the table
				{"SELECT", "ops.jobs", true},
				{"SELECT", "*.orders", false}, {"SELECT", "", false},
				{"EXECUTE", "shop.*", false},
			},
		},
		{
			name: "odd identifiers",
			rows: []string{
				"GRANT SELECT ON `we``ird.db`.* TO `u`@`%`",
				"GRANT INSERT ON `a on b`.* TO `u to v`@`%`",
			},
			checks: []check{{"INSERT", "a on b.t", true}, {"SELECT", "we.*", false}},
		},
		{
			name:   "role grant",
			rows:   []string{"GRANT `cdc_role` TO `u`@`%`", "GRANT USAGE ON *.* TO `u`@`%`"},
			roles:  true,
			checks: []check{{"SELECT", "shop.*", false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := parseGrants(tc.rows)
			if g.viaRoles != tc.roles {
				t.Errorf("viaRoles = %v, want %v", g.viaRoles, tc.roles)
			}
			for _, c := range tc.checks {
				var got bool
				if c.pattern == "" {
					got = g.hasGlobal(c.priv)
				} else {
					got = g.hasOn(c.priv, c.pattern)
				}
				if got != c.want {
					t.Errorf("%s on %q = %v, want %v (grants %+v)", c.priv, c.pattern, got, c.want, g)
				}
			}
		})
	}
}

func TestParseObject(t *testing.T) {
	cases := []struct{ in, db, table string }{
		{"*.*", "*", "*"},
		{"`shop`.*", "shop", "*"},
		{"`we``ird.db`.`t.1`", "we`ird.db", "t.1"},
		{"shop.orders", "shop", "orders"},
		{"TABLE `ops`.`jobs`", "ops", "jobs"},
		{"PROCEDURE `shop`.`p`", "", ""},
		{"*", "", ""},
		{"`unterminated.*", "", ""},
	}
	for _, c := range cases {
		db, table, ok := parseObject(c.in)
		if ok != (c.db != "") || db != c.db || table != c.table {
			t.Errorf("parseObject(%q) = %q, %q, %v; want %q, %q", c.in, db, table, ok, c.db, c.table)
		}
	}
}

func TestMissingPrivilegesListsEveryOne(t *testing.T) {
	g := parseGrants([]string{
		"GRANT USAGE ON *.* TO `ro`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'",
		"GRANT SELECT ON `shop`.* TO `ro`@`%`",
	})
	var r Result
	s := mysqlServer{version: "10.11.4-MariaDB", user: "ro@%", flavor: "mariadb"}
	missingPrivileges(&r, g, s, mysqlSourceNeeds("initial"), []string{"shop.*", "crm.orders", "*.audit"})

	want := []string{
		"lacks REPLICATION SLAVE, needed to read the binlog: GRANT REPLICATION SLAVE ON *.* TO 'ro'@'%'",
		"lacks REPLICATION CLIENT (or BINLOG MONITOR), needed to read the binlog position",
		"lacks SELECT on crm.orders, *.audit",
		"GRANT SELECT ON *.* TO 'ro'@'%'; GRANT SELECT ON `crm`.* TO 'ro'@'%'",
		"lacks RELOAD",
		"lacks LOCK TABLES on shop.*, crm.orders, *.audit",
	}
	msgs := ""
	for _, p := range r.Problems {
		if p.Code != Privilege {
			t.Errorf("code %s, want privilege: %s", p.Code, p.Msg)
		}
		msgs += p.Msg + "\n"
	}
	for _, w := range want {
		if !strings.Contains(msgs, w) {
			t.Errorf("missing %q in:\n%s", w, msgs)
		}
	}
	if len(r.Problems) != 5 {
		t.Errorf("got %d problems, want 5:\n%s", len(r.Problems), msgs)
	}
	if strings.Contains(msgs, "2470C0C") {
		t.Error("a password hash from SHOW GRANTS leaked into a message")
	}

	// snapshot: never needs neither RELOAD nor LOCK TABLES.
	r = Result{}
	missingPrivileges(&r, g, s, mysqlSourceNeeds("never"), []string{"shop.*"})
	if len(r.Problems) != 2 {
		t.Errorf("snapshot never: got %+v, want the two replication privileges", r.Problems)
	}
}

func TestLikeMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"shop", "shop", true}, {"shop", "shops", false}, {"sh%", "shop", true},
		{"%", "", true}, {"s_op", "shop", true}, {`s\_op`, "shop", false},
		{`s\_op`, "s_op", true}, {"%p", "shop", true}, {"a%b%c", "aXbYc", true},
	}
	for _, c := range cases {
		if got := likeMatch(c.pattern, c.s); got != c.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
