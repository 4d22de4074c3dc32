package mysql

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/walship/walship/ordering"
)

// Text columns in the character sets of Config.RawCharsets are captured as
// their bytes: the column becomes a binary column of the model (KindBytes;
// varchar(n) and char(n) as varbinary of their byte length, so char(n)
// gains no 0x00 padding; the text types as the blob of the same size) and
// its values are the bytes the server stores, never decoded. No value can
// then hold bytes its charset does not define (ErrUndefinedBytes), and a
// follower stores exactly the source's bytes. ENUM and SET labels stay
// text.

// rawText turns the text columns of t whose charset raw names into raw
// columns. It is applied to every shape the source builds (TABLE_MAP,
// catalog), so snapshot and stream agree.
func (t *binlogTable) rawText(raw func(charset string) bool) {
	if raw == nil {
		return
	}
	for i := range t.cols {
		c, col := &t.cols[i], &t.table.Columns[i]
		if c.binary || c.charset == nil || !raw(c.charset.name) {
			continue
		}
		switch c.typ {
		case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_STRING:
			c.raw = true
			col.Length *= max(c.charset.maxLen, 1)
			col.Kind, col.Type = ordering.KindBytes, fmt.Sprintf("varbinary(%d)", col.Length)
		case mysql.MYSQL_TYPE_BLOB:
			c.raw = true
			col.Kind, col.Type = ordering.KindBytes, strings.TrimSuffix(col.Type, "text")+"blob"
		}
	}
}

// raw reports whether Config.RawCharsets names charset (or is "*").
func (c *Config) raw(charset string) bool {
	for _, r := range c.RawCharsets {
		if r == "*" || strings.EqualFold(r, charset) {
			return true
		}
	}
	return false
}
