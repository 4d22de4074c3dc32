// Package envelope encodes walship's change model as Kafka records that
// existing Debezium consumers read as they read Debezium's own topics, and
// decodes them back without loss for walship's own sinks.
//
// A change becomes one or more records (Encode), in this order:
//
//	insert, update, read, truncate   one data record
//	prune (op "p")                   one data record with a null key: the
//	                                 key range's bounds as before and
//	                                 after (ordering.OpPrune; not a
//	                                 Debezium op, written only by an
//	                                 incremental snapshot that deletes
//	                                 rows not seen)
//	delete                           the data record, then a tombstone (the
//	                                 key, a null value), unless the table
//	                                 has no key
//	update changing the primary key  a delete of the old key, its
//	                                 tombstone, a create of the new key
//	                                 (Debezium's __debezium.newkey and
//	                                 __debezium.oldkey headers)
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
//	        the Header* constants. Every value is plain text that Kafka
//	        Connect's default SimpleHeaderConverter reads as a string,
//	        number or boolean: none is a JSON object or array.
//
// Tombstones carry no headers and are no change: readers skip them
// (IsTombstone), and transaction counts (END markers' event_count, data
// collections and partitions; total_order) count data records only. The
// two halves of a key change share the change's walship.index and carry
// walship.keychange; a reader joins them with MergeKeyChange, so walship's
// sinks apply the update the source made.
//
// Images follow Debezium: a value the source did not send is null in a
// before image (a PostgreSQL delete under REPLICA IDENTITY DEFAULT has the
// key columns only), and an update whose before image is the key alone
// travels as before: null (walship.before=key). In an after image an
// unchanged TOASTed value is Debezium's placeholder
// "__debezium_unavailable_value" where the field can hold it (null
// otherwise), and the walship.unchanged header names its columns, so a
// real string equal to the placeholder is never mistaken for one.
//
// Column values follow Debezium's JSON encodings: decimals by DecimalMode
// (Debezium's decimal.handling.mode; precise by default), and the lossless
// time.precision.mode=adaptive_time_microseconds, binary.handling.mode=base64,
// interval.handling.mode=string. NaN and ±Infinity floats travel as the
// strings "NaN", "Infinity", "-Infinity" (as Jackson writes them). Dates and
// timestamps that have no instant (PostgreSQL infinity, MySQL zero dates)
// travel as their literal text. A decimal the value does not hold exactly
// travels as text in a walship.exact.{after,before}.<column> header too.
//
// The walship.schema header carries the table's shape (column kinds,
// native types, keys) after SchemaPrefix, so a sink decodes every value
// exactly and can create or evolve the follower table before the first row
// that needs it.
//
// The formats are persisted in Kafka: golden files in testdata pin them.
// Regenerate with go test ./ordering/envelope -update, and only on purpose.
// testdata/v1 holds records of the first log format (the schema header a
// bare JSON object, decimals as text, key changes as one update, no
// tombstones, END partition counts as JSON), which Decode and DecodeMarker
// still read.
package envelope
