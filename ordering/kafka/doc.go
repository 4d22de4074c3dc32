// Package kafka writes walship's causally ordered log to Apache Kafka (with
// segmentio/kafka-go) and creates its topics.
//
// A Publisher writes the transactions of one source, in the order Publish
// is called, as:
//
//  1. a BEGIN marker on <prefix>.transaction (one partition: the spine);
//  2. each change's records (see envelope.Encode: a delete is followed by
//     its tombstone, a primary-key change is a delete of the old key, its
//     tombstone and a create of the new key) on <prefix>.<schema>.<table>,
//     each partitioned by the murmur2 hash of its key (Java's default
//     partitioner, so per-key order holds for every consumer), or by table
//     name when the key is null;
//  3. an END marker carrying the event count per table and per
//     topic-partition, so a sink knows when it holds the whole transaction.
//     The END is written only once Kafka acknowledged every data record of
//     the transaction: a durable END means all the events it counts are in
//     their partitions. (Kafka has no atomic write across partitions; a
//     write torn by a crash leaves data records without an END, which
//     sinks skip, and the transaction is written again whole.)
//
// Acknowledgement: every record is produced with acks=all. A transaction is
// acknowledged (OnDurable) only when all its records are, and in Publish
// order, so the callback's position is always a prefix of the log: safe to
// send upstream and to checkpoint. Any failed write is fatal for the
// Publisher: it stops accepting work and Err returns the cause; the source
// restarts from its last durable position, so the log may hold duplicates
// (same Seq) but never a gap.
//
// Backpressure: at most MaxInFlightBytes of records are unacknowledged at
// once; Publish blocks beyond that, so a slow Kafka slows the source instead
// of growing memory.
//
// Batching: BEGIN markers, data records and heartbeats go through the
// package's producer: per partition, one produce request in flight,
// carrying everything queued meanwhile (no linger when idle; batches grow
// with the round trip under load), retried in place on transient errors,
// and nothing more on that partition after a failure. END markers go
// through their own synchronous writer, one write at a time.
//
// A Reader fetches and decodes each partition on its own goroutine, ahead
// of the transaction being assembled (bounded per partition by events and
// bytes). It skips tombstones (the END counts data records only) and joins
// the two halves of a key change, wherever their partitions, into the
// update the source made.
package kafka
