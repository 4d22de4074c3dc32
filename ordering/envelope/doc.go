// Package envelope encodes walship's change model as Kafka records that
// existing Debezium consumers understand, and decodes them back without
// loss for walship's own sinks.
//
// A data record is:
//
//	key     the primary key columns as a JSON object (null when the table
//	        has none), like Debezium's key struct
//	value   Debezium's change event envelope: before, after, source{...},
//	        op (c/u/d/r/t), ts_ms, transaction{id,total_order,
//	        data_collection_order}; with Options.Schemas the Kafka Connect
//	        JSON form {"schema":...,"payload":...}
//	headers what walship's sinks need and Debezium consumers ignore; see
//	        the Header* constants
//
// Column values follow Debezium's JSON encodings with these modes, chosen
// because they are lossless: decimal.handling.mode=string,
// time.precision.mode=adaptive_time_microseconds, binary.handling.mode=base64,
// interval.handling.mode=string. NaN and ±Infinity floats travel as the
// strings "NaN", "Infinity", "-Infinity" (as Jackson writes them). Dates and
// timestamps that have no instant (PostgreSQL infinity, MySQL zero dates)
// travel as their literal text. An unchanged TOASTed value is Debezium's
// placeholder "__debezium_unavailable_value" in the value, and the
// HeaderUnchanged header names its columns, so a real string equal to the
// placeholder is never mistaken for one.
//
// The walship.schema header carries the table's shape (column kinds,
// native types, keys), so a sink decodes every value exactly and can create
// or evolve the follower table before the first row that needs it.
//
// The formats are persisted in Kafka: golden files in testdata pin them.
// Regenerate with go test ./ordering/envelope -update, and only on purpose.
package envelope
