package envelope

// Header keys of data records. Values are UTF-8 text.
const (
	HeaderSource    = "walship.source"     // configured source name
	HeaderSeq       = "walship.seq"        // offsets.Seq of the transaction
	HeaderDependsOn = "walship.depends_on" // offsets.Seq it must follow; absent when none
	HeaderIndex     = "walship.index"      // 0-based index of the event in its transaction
	HeaderCount     = "walship.count"      // number of events in the transaction
	HeaderPosition  = "walship.position"   // offsets.Position text of the transaction
	HeaderSchema    = "walship.schema"     // JSON of the ordering.Table the row was decoded with
	HeaderUnchanged = "walship.unchanged"  // comma-separated names of unchanged columns in after
	// HeaderUnchangedBefore names the columns the before image lacks (a
	// PostgreSQL delete or key update under REPLICA IDENTITY DEFAULT).
	HeaderUnchangedBefore = "walship.unchanged.before"
	HeaderSnapshot        = "walship.snapshot" // "true" or "last" on snapshot chunks
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
