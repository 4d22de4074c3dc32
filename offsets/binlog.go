package offsets

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// BinlogPos is a position in a MySQL or MariaDB binary log.
type BinlogPos struct {
	File string // e.g. mysql-bin.000042
	Pos  uint64 // byte offset within File
}

// IsZero reports whether no file is set.
func (b BinlogPos) IsZero() bool { return b.File == "" }

// String is "file:pos".
func (b BinlogPos) String() string { return fmt.Sprintf("%s:%d", b.File, b.Pos) }

// ParseBinlogPos parses "file:pos".
func ParseBinlogPos(s string) (BinlogPos, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return BinlogPos{}, fmt.Errorf("%w: binlog position %q is not file:pos", ErrMalformed, s)
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return BinlogPos{}, fmt.Errorf("%w: binlog position %q has a bad offset", ErrMalformed, s)
	}
	if _, err := fileIndex(s[:i]); err != nil {
		return BinlogPos{}, err
	}
	return BinlogPos{File: s[:i], Pos: p}, nil
}

// FileIndex is the numeric suffix of the file name (mysql-bin.000042 → 42).
func (b BinlogPos) FileIndex() (uint64, error) { return fileIndex(b.File) }

func fileIndex(file string) (uint64, error) {
	dot := strings.LastIndexByte(file, '.')
	n, err := strconv.ParseUint(file[dot+1:], 10, 64)
	if dot < 0 || err != nil {
		return 0, fmt.Errorf("%w: binlog file %q has no numeric suffix", ErrMalformed, file)
	}
	return n, nil
}

// Compare orders two positions of one server's binlog: by file index, then
// offset. Files that do not parse compare by name.
func (b BinlogPos) Compare(o BinlogPos) int {
	bi, err1 := b.FileIndex()
	oi, err2 := o.FileIndex()
	if err1 != nil || err2 != nil {
		return cmp.Or(strings.Compare(b.File, o.File), cmp.Compare(b.Pos, o.Pos))
	}
	return cmp.Or(cmp.Compare(bi, oi), cmp.Compare(b.Pos, o.Pos))
}
