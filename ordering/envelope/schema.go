package envelope

import (
	"strconv"
	"strings"

	"github.com/walship/walship/ordering"
)

// tableJSON is what the walship.schema header carries.
func tableJSON(t *ordering.Table) *ordering.Table { return t }

// Kafka Connect JSON schemas (Options.Schemas), with Debezium's logical
// type names for the encodings this package uses.

// connectType returns the Connect type and the logical name of a column.
func connectType(c ordering.Column, k ordering.Kind) (typ, name string) {
	native := strings.ToLower(c.Type)
	switch k {
	case ordering.KindBool:
		return "boolean", ""
	case ordering.KindInt:
		switch {
		case hasAnyPrefix(native, "smallint", "int2", "tinyint", "smallserial"):
			return "int16", ""
		case hasAnyPrefix(native, "integer", "int4", "int(", "mediumint", "serial") || native == "int" || strings.HasPrefix(native, "int "):
			return "int32", ""
		case strings.HasPrefix(native, "year"):
			return "int32", "io.debezium.time.Year"
		}
		return "int64", ""
	case ordering.KindUint:
		return "int64", ""
	case ordering.KindFloat:
		if hasAnyPrefix(native, "real", "float4", "float") && !strings.HasPrefix(native, "float8") {
			return "float", ""
		}
		return "double", ""
	case ordering.KindBytes:
		return "bytes", ""
	case ordering.KindDate:
		return "int32", "io.debezium.time.Date"
	case ordering.KindTime:
		return "int64", "io.debezium.time.MicroTime"
	case ordering.KindTimestamp:
		return "int64", "io.debezium.time.MicroTimestamp"
	case ordering.KindTimestampTZ:
		return "string", "io.debezium.time.ZonedTimestamp"
	case ordering.KindInterval:
		return "string", "io.debezium.time.Interval"
	case ordering.KindUUID:
		return "string", "io.debezium.data.Uuid"
	case ordering.KindJSON:
		return "string", "io.debezium.data.Json"
	case ordering.KindEnum:
		return "string", "io.debezium.data.Enum"
	case ordering.KindArray:
		return "array", ""
	}
	return "string", "" // decimal (string mode), string, text
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// appendDecimalSchema appends the schema of a decimal column in mode m
// (precise or double; string is connectType's).
func appendDecimalSchema(b []byte, c ordering.Column, m DecimalMode, field string, optional bool) []byte {
	if m == DecimalDouble {
		b = append(b, `{"type":"double","optional":`...)
		b = strconv.AppendBool(b, optional)
	} else if _, fixed := fixedScale(c); fixed {
		b = append(b, `{"type":"bytes","optional":`...)
		b = strconv.AppendBool(b, optional)
		b = append(b, `,"name":"org.apache.kafka.connect.data.Decimal","version":1`...)
	} else {
		b = append(b, `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":`...)
		b = strconv.AppendBool(b, optional)
		b = append(b, `,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"`...)
	}
	b = append(b, `,"parameters":{`...)
	if scale, fixed := fixedScale(c); fixed && m == DecimalPrecise {
		b = append(b, `"scale":`...)
		b = appendString(b, strconv.Itoa(scale))
		b = append(b, `,"connect.decimal.precision":`...)
		b = appendString(b, strconv.Itoa(c.Precision))
		b = append(b, ',')
	}
	b = append(b, `"__debezium.source.column.type":`...)
	b = appendString(b, c.Type)
	if c.Precision > 0 {
		b = append(b, `,"__debezium.source.column.length":`...)
		b = appendString(b, strconv.Itoa(c.Precision))
		b = append(b, `,"__debezium.source.column.scale":`...)
		b = appendString(b, strconv.Itoa(c.Scale))
	}
	b = append(b, `},"field":`...)
	b = appendString(b, field)
	return append(b, '}')
}

// appendFieldSchema appends the schema of one column; field is its name, or
// "" for array items (decimals in arrays travel as text in every mode).
func appendFieldSchema(b []byte, c ordering.Column, k ordering.Kind, m DecimalMode, field string, optional bool) []byte {
	if k == ordering.KindDecimal && field != "" && m != DecimalString {
		return appendDecimalSchema(b, c, m, field, optional)
	}
	typ, name := connectType(c, k)
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, optional)
	if name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, name)
		b = append(b, `,"version":1`...)
	}
	if k == ordering.KindArray {
		b = append(b, `,"items":`...)
		b = appendFieldSchema(b, c, c.Elem, m, "", true)
	}
	if field != "" {
		b = append(b, `,"parameters":{"__debezium.source.column.type":`...)
		b = appendString(b, c.Type)
		if c.Length > 0 {
			b = append(b, `,"__debezium.source.column.length":`...)
			b = appendString(b, strconv.Itoa(c.Length))
		}
		if k == ordering.KindDecimal && c.Precision > 0 {
			b = append(b, `,"__debezium.source.column.scale":`...)
			b = appendString(b, strconv.Itoa(c.Scale))
		}
		if len(c.Enum) > 0 {
			b = append(b, `,"allowed":`...)
			b = appendString(b, strings.Join(c.Enum, ","))
		}
		b = append(b, `},"field":`...)
		b = appendString(b, field)
	}
	return append(b, '}')
}

func appendRowSchema(b []byte, src Source, t *ordering.Table, m DecimalMode, field string) []byte {
	b = append(b, `{"type":"struct","optional":true,"name":`...)
	b = appendString(b, schemaName(src, t, "Value"))
	b = append(b, `,"field":`...)
	b = appendString(b, field)
	b = append(b, `,"fields":[`...)
	for i, c := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFieldSchema(b, c, c.Kind, m, c.Name, c.Nullable || !isKey(t, c.Name))
	}
	return append(b, "]}"...)
}

func isKey(t *ordering.Table, col string) bool {
	for _, k := range t.PrimaryKey {
		if k == col {
			return true
		}
	}
	return false
}

// schemaName is Debezium's <prefix>.<schema>.<table>.<suffix>, with
// characters Avro does not allow replaced by '_'.
func schemaName(src Source, t *ordering.Table, suffix string) string {
	return avroSafe(src.Logical) + "." + avroSafe(t.Schema) + "." + avroSafe(t.Name) + "." + suffix
}

func avroSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func appendKeySchema(b []byte, src Source, t *ordering.Table, m DecimalMode) []byte {
	b = append(b, `{"type":"struct","optional":false,"name":`...)
	b = appendString(b, schemaName(src, t, "Key"))
	b = append(b, `,"fields":[`...)
	for i, k := range t.PrimaryKey {
		if i > 0 {
			b = append(b, ',')
		}
		c := t.Columns[t.ColumnIndex(k)]
		b = appendFieldSchema(b, c, c.Kind, m, c.Name, false)
	}
	return append(b, "]}"...)
}

const snapshotAllowed = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

func appendEnvelopeSchema(b []byte, src Source, t *ordering.Table, m DecimalMode) []byte {
	b = append(b, `{"type":"struct","optional":false,"name":`...)
	b = appendString(b, schemaName(src, t, "Envelope"))
	b = append(b, `,"version":2,"fields":[`...)
	b = appendRowSchema(b, src, t, m, "before")
	b = append(b, ',')
	b = appendRowSchema(b, src, t, m, "after")
	b = append(b, `,{"type":"struct","optional":false,"name":`...)
	b = appendString(b, "io.debezium.connector."+src.Connector+".Source")
	b = append(b, `,"version":1,"field":"source","fields":[`...)
	b = append(b, `{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},`+
		`{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},`+
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"`+snapshotAllowed+`"},"default":"false","field":"snapshot"},`+
		`{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},`+
		`{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},`...)
	if src.Connector == "postgresql" {
		b = append(b, `{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},`+
			`{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},`+
			`{"type":"int64","optional":true,"field":"xmin"}]}`...)
	} else {
		b = append(b, `{"type":"string","optional":true,"field":"table"},{"type":"int64","optional":false,"field":"server_id"},`+
			`{"type":"string","optional":true,"field":"gtid"},{"type":"string","optional":false,"field":"file"},`+
			`{"type":"int64","optional":false,"field":"pos"},{"type":"int32","optional":false,"field":"row"},`+
			`{"type":"int64","optional":true,"field":"thread"},{"type":"string","optional":true,"field":"query"}]}`...)
	}
	b = append(b, `,{"type":"string","optional":false,"field":"op"},`+
		`{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},`+
		`{"type":"struct","optional":true,"name":"event.block","version":1,"field":"transaction","fields":[`+
		`{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},`+
		`{"type":"int64","optional":false,"field":"data_collection_order"}]}]}`...)
	return b
}
