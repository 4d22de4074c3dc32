package mysql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// valueFree are MySQL/MariaDB error numbers whose messages name columns,
// keys and constraints but never a row value: kept as they are.
var valueFree = map[uint16]bool{
	1048: true, // Column '%s' cannot be null
	1054: true, // Unknown column
	1146: true, // Table doesn't exist
	1136: true, // Column count doesn't match
	1264: true, // Out of range value for column '%s' at row %d
	1265: true, // Data truncated for column '%s' at row %d
	1406: true, // Data too long for column '%s' at row %d
	1451: true, // a foreign key constraint fails (parent row)
	1452: true, // a foreign key constraint fails (child row)
	1364: true, // Field '%s' doesn't have a default value
	3819: true, // Check constraint '%s' is violated
	4025: true, // CONSTRAINT %s failed for %s
}

// Redact describes a server error without the row values MySQL and
// MariaDB quote in some messages (1062 "Duplicate entry 'value' for key
// 'k'", 1366 "Incorrect integer value: 'value' for column", ...): value-free
// messages are kept, a duplicate entry keeps its key name, any other
// message is replaced by its number and SQLSTATE. "" for errors that are
// not the server's.
func (d *Dialect) Redact(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	head := fmt.Sprintf("Error %d (%s)", me.Number, string(me.SQLState[:]))
	switch {
	case valueFree[me.Number]:
		return head + ": " + me.Message
	case me.Number == 1062:
		// Duplicate entry '<value>' for key '<name>': the value may hold
		// anything, quotes included; the key name is the message's tail.
		if i := strings.LastIndex(me.Message, " for key '"); i >= 0 {
			return head + ": Duplicate entry (value redacted)" + me.Message[i:]
		}
		return head + ": Duplicate entry (value redacted)"
	}
	return head + ": the server's message is withheld, since it may quote a row value"
}
