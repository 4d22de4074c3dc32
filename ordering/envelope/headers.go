package envelope

// Header keys of data records. Values are UTF-8 text, and none is a JSON
// object or array: Kafka Connect's default header converter
// (SimpleHeaderConverter) reads every one as a string, number or boolean
// with a schema, which Debezium's JDBC sink requires.
const (
	HeaderSource    = "walship.source"     // configured source name
	HeaderSeq       = "walship.seq"        // offsets.Seq of the transaction
	HeaderDependsOn = "walship.depends_on" // offsets.Seq it must follow; absent when none
	HeaderIndex     = "walship.index"      // 0-based index of the event in its transaction
	HeaderCount     = "walship.count"      // number of events in the transaction
	HeaderPosition  = "walship.position"   // offsets.Position text of the transaction
	// HeaderSchema is SchemaPrefix and the JSON of the ordering.Table the
	// row was decoded with. (Records of the first log format carry the bare
	// JSON object; Decode reads both.)
	HeaderSchema    = "walship.schema"
	HeaderUnchanged = "walship.unchanged" // comma-separated names of unchanged columns in after
	// HeaderUnchangedBefore names the columns the before image lacks (a
	// PostgreSQL delete or key update under REPLICA IDENTITY DEFAULT).
	HeaderUnchangedBefore = "walship.unchanged.before"
	HeaderSnapshot        = "walship.snapshot" // "true" or "last" on snapshot chunks
	// HeaderEpoch is the cluster epoch under which the source's owner wrote
	// the record (package cluster), on every record of a source run by a
	// cluster member; absent (0) outside cluster mode and on records
	// written before it existed. Readers ignore a source's records of an
	// epoch below one they saw on its spine: a previous owner that still
	// writes (paused, cut off) is fenced.
	HeaderEpoch = "walship.epoch"
	// HeaderKeyChange marks the two halves of an update that changed the
	// primary key, which travels as Debezium's connectors send it: a
	// delete of the old key ("delete"), its tombstone, and a create of the
	// new key ("create"). Both halves carry the change's HeaderIndex;
	// Decode returns each half, and MergeKeyChange makes the update again.
	HeaderKeyChange = "walship.keychange"
	// HeaderBeforeKey "key": the before image was the key columns alone
	// (the rest not sent by the source), equal to the after image's, and
	// travels as before: null, as Debezium sends it.
	HeaderBeforeKey = "walship.before"
	// HeaderDecimal is the DecimalMode of the record's decimal values
	// ("precise" or "double"); absent: "string" (the first log format).
	HeaderDecimal = "walship.decimal"
	// HeaderExactAfter and HeaderExactBefore, followed by a column name,
	// carry the exact text of a decimal the value does not hold exactly
	// (NaN and ±Infinity in precise mode, every decimal in double mode).
	HeaderExactAfter  = "walship.exact.after."
	HeaderExactBefore = "walship.exact.before."
)

// SchemaPrefix starts the HeaderSchema value. The JSON after it makes the
// whole value a plain string to Kafka Connect's SimpleHeaderConverter.
const SchemaPrefix = "walship.table/2 "

// Debezium's headers on the halves of a primary-key change: the delete
// names the new key, the create the old one, in Kafka Connect's Struct text
// ("Struct{id=20}"), as SimpleHeaderConverter writes Debezium's own.
const (
	HeaderDebeziumNewKey = "__debezium.newkey"
	HeaderDebeziumOldKey = "__debezium.oldkey"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one Kafka record, without topic and partition.
type Record struct {
	Key     []byte // nil for a null key
	Value   []byte
	Headers []Header
}

// Header returns the value of the first header named key.
func (r Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Unavailable is Debezium's placeholder for a value the source did not send.
const Unavailable = "__debezium_unavailable_value"
