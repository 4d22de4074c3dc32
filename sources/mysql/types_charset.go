package mysql

// Character sets of binlog columns, by collation id (the TABLE_MAP event
// carries collation ids, never charset names).
//
// Ids below 1024 are MySQL's and MariaDB's (they agree where both use an
// id; 255-511 are MySQL 8's utf8mb4 *_0900_* collations). MariaDB's NO PAD
// collations are the PAD SPACE id + 1024, and its UCA 14.0.0 collations
// (10.10+) take 256 ids per charset from 2048: utf8mb3, utf8mb4, ucs2,
// utf16, utf32.
//
// Text is converted to UTF-8 by the charset's decoder: utf8mb4, utf8mb3
// and ascii pass through; latin1 is MySQL's latin1 (cp1252 whose five
// undefined bytes are the C1 controls U+0081, U+008D, U+008F, U+0090,
// U+009D); the other charsets use golang.org/x/text's table for the
// matching standard encoding (bytes it cannot map become U+FFFD). armscii8,
// dec8, geostd8, hp8, keybcs2, macce and swe7 have no decoder: a column in
// one of them is an error when its table is loaded, never mangled text.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// binaryCollation is the id of the binary charset's only collation.
const binaryCollation = 63

// typesCharset is a MySQL character set.
type typesCharset struct {
	name   string
	maxLen int                            // bytes of its longest character
	decode func(b []byte) (string, error) // to UTF-8; nil: the bytes already are UTF-8
}

// typesCollationIDs lists the collation ids of each charset below 1024.
var typesCollationIDs = map[string]string{
	"armscii8": "32 64", "ascii": "11 65", "big5": "1 84", "binary": "63",
	"cp1250": "26 34 44 66 99", "cp1251": "14 23 50-52", "cp1256": "57 67", "cp1257": "29 58 59",
	"cp850": "4 80", "cp852": "40 81", "cp866": "36 68", "cp932": "95 96", "dec8": "3 69",
	"eucjpms": "97 98", "euckr": "19 85", "gb2312": "24 86", "gbk": "28 87", "gb18030": "248-250",
	"geostd8": "92 93", "greek": "25 70", "hebrew": "16 71", "hp8": "6 72", "keybcs2": "37 73",
	"koi8r": "7 74", "koi8u": "22 75", "latin1": "5 8 15 31 47-49 94", "latin2": "2 9 21 27 77",
	"latin5": "30 78", "latin7": "20 41 42 79", "macce": "38 43", "macroman": "39 53",
	"sjis": "13 88", "swe7": "10 82", "tis620": "18 89", "ujis": "12 91", "utf16le": "56 62",
	"ucs2":    "35 90 128-151 159 640-642",
	"utf16":   "54 55 101-124 672-674",
	"utf32":   "60 61 160-183 736-738",
	"utf8mb3": "33 76 83 192-215 223 576-578",
	"utf8mb4": "45 46 224-247 255-511 608-610",
}

// ErrUndefinedBytes: a text value holds bytes its column's character set
// does not define; decoding it would change the value.
var ErrUndefinedBytes = errors.New("text not valid in its character set")

// typesUCA1400 are the charsets of MariaDB's UCA 14.0.0 id blocks.
var typesUCA1400 = []string{"utf8mb3", "utf8mb4", "ucs2", "utf16", "utf32"}

var (
	typesCollations = map[uint64]string{}
	typesCharsets   = map[string]*typesCharset{}
)

func init() {
	for cs, ids := range typesCollationIDs {
		for _, f := range strings.Fields(ids) {
			lo, hi, _ := strings.Cut(f, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if hi != "" {
				b, _ = strconv.Atoi(hi)
			}
			for id := a; id <= b; id++ {
				typesCollations[uint64(id)] = cs
			}
		}
	}
	add := func(name string, maxLen int, enc encoding.Encoding) {
		c := &typesCharset{name: name, maxLen: maxLen}
		if enc != nil {
			c.decode = func(b []byte) (string, error) {
				out, err := enc.NewDecoder().Bytes(b)
				if err != nil {
					return "", err
				}
				// The decoder turns bytes the charset does not define into
				// U+FFFD: a changed value. Only a text that encodes back to
				// the same bytes (a real U+FFFD) is kept.
				if bytes.ContainsRune(out, utf8.RuneError) {
					back, err := enc.NewEncoder().Bytes(out)
					if err != nil || !bytes.Equal(back, b) {
						return "", fmt.Errorf("%w: bytes the character set %s does not define (they would become U+FFFD)", ErrUndefinedBytes, name)
					}
				}
				return string(out), nil
			}
		}
		typesCharsets[name] = c
	}
	add("utf8mb4", 4, nil)
	add("utf8mb3", 3, nil)
	add("ascii", 1, nil)
	add("binary", 1, nil)
	typesCharsets["latin1"] = &typesCharset{name: "latin1", maxLen: 1, decode: typesLatin1}
	for n, e := range map[string]encoding.Encoding{
		"latin2": charmap.ISO8859_2, "cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251,
		"cp1256": charmap.Windows1256, "cp1257": charmap.Windows1257, "cp850": charmap.CodePage850,
		"cp852": charmap.CodePage852, "cp866": charmap.CodePage866, "greek": charmap.ISO8859_7,
		"hebrew": charmap.ISO8859_8, "latin5": charmap.ISO8859_9, "latin7": charmap.ISO8859_13,
		"koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U, "macroman": charmap.Macintosh,
		"tis620": charmap.Windows874,
	} {
		add(n, 1, e)
	}
	add("ucs2", 2, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM))
	add("utf16", 4, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM))
	add("utf16le", 4, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM))
	add("utf32", 4, utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM))
	add("sjis", 2, japanese.ShiftJIS)
	add("cp932", 2, japanese.ShiftJIS)
	add("ujis", 3, japanese.EUCJP)
	add("eucjpms", 3, japanese.EUCJP)
	add("euckr", 2, korean.EUCKR)
	add("gb2312", 2, simplifiedchinese.GBK)
	add("gbk", 2, simplifiedchinese.GBK)
	add("gb18030", 4, simplifiedchinese.GB18030)
	add("big5", 2, traditionalchinese.Big5)
}

// typesCollationCharset is the charset of a collation id. An unknown id,
// or a charset walship cannot convert to UTF-8, is an error.
func typesCollationCharset(id uint64) (*typesCharset, error) {
	name, ok := typesCollations[id]
	switch {
	case !ok && id >= 1024 && id < 2048:
		name, ok = typesCollations[id-1024] // MariaDB NO PAD
	case !ok && id >= 2048 && id < 2048+256*uint64(len(typesUCA1400)):
		name, ok = typesUCA1400[(id-2048)/256], true // MariaDB UCA 14.0.0
	}
	if !ok {
		return nil, fmt.Errorf("unknown collation id %d", id)
	}
	cs := typesCharsets[name]
	if cs == nil {
		return nil, fmt.Errorf("character set %s (collation id %d) is not supported", name, id)
	}
	return cs, nil
}

// text converts column bytes to UTF-8. The result never shares memory
// with b (go-mysql's values point into the event buffer).
func (cs *typesCharset) text(b []byte) (string, error) {
	if cs == nil || cs.decode == nil {
		return string(b), nil
	}
	return cs.decode(b)
}

// typesLatin1High maps MySQL latin1 bytes 0x80-0x9F (cp1252, with C1
// controls for its undefined bytes); 0xA0-0xFF are U+00A0-U+00FF.
var typesLatin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

func typesLatin1(b []byte) (string, error) {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(typesLatin1High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String(), nil
}
