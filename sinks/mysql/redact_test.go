package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/walship/walship/sinks/sqlsink"
)

var _ sqlsink.Redactor = (*Dialect)(nil)

// TestRedact: no row value of a server error reaches the text walship
// shows (logs, status, dead letters); column, key and constraint names do.
func TestRedact(t *testing.T) {
	d := &Dialect{}
	for _, c := range []struct {
		err      *mysql.MySQLError
		keep     string
		withheld bool
	}{
		{&mysql.MySQLError{Number: 1062, SQLState: [5]byte{'2', '3', '0', '0', '0'}, Message: "Duplicate entry 'ROWSECRET-a' for key 'uv'"}, "for key 'uv'", false},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry 'ROWSECRET' for key ' for key 'x'"}, "Duplicate entry (value redacted)", false},
		{&mysql.MySQLError{Number: 1366, Message: "Incorrect integer value: 'ROWSECRET' for column `db`.`t`.`n` at row 1"}, "withheld", true},
		{&mysql.MySQLError{Number: 1406, Message: "Data too long for column 'v' at row 1"}, "Data too long for column 'v'", false},
		{&mysql.MySQLError{Number: 9999, Message: "something 'ROWSECRET'"}, "withheld", true},
	} {
		err := fmt.Errorf("insert: %w", c.err)
		got := d.Redact(err)
		if strings.Contains(got, "ROWSECRET") || !strings.Contains(got, c.keep) {
			t.Errorf("%d: %q", c.err.Number, got)
		}
		ce := &sqlsink.ChangeError{Table: "t", Err: err, Safe: got}
		if strings.Contains(ce.Error(), "ROWSECRET") {
			t.Errorf("ChangeError text: %s", ce)
		}
	}
	if d.Redact(fmt.Errorf("not the server's")) != "" {
		t.Error("a non-server error has no redacted text")
	}
}
