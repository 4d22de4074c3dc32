// Package sqltext holds the text forms of model values that the SQL
// follower dialects (sinks/postgres, sinks/mysql, sinks/sqlite) share:
// proleptic Gregorian calendar arithmetic on the model's day and
// microsecond counts, clock and duration text, and the JSON rendering of
// arrays and values (PostgreSQL to_json style) for followers that store
// arrays as JSON. It has no state and no I/O.
package sqltext
