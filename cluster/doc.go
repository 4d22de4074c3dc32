// Package cluster runs one configuration's sources and sinks on several
// daemons (config cluster:), each component on exactly one live member at
// a time, and moves a component to another member when its member dies,
// freezes, is cut off, or stops.
//
// # The choice: Kafka's group membership
//
// Members coordinate through a Kafka consumer group, the engine Kafka
// Connect's distributed mode uses, not a consensus of their own. The group
// walship.cluster.<name> consumes nothing: the partitions of the control
// topic _walship.cluster.<name> stand for the components (component i, in
// sorted order, is partition i). The group's leader assigns them with the
// balancer here: each member keeps what it ran up to its fair share (the
// component count over the members, rounded up for as many members as the
// division leaves over), the rest goes to the members with the fewest, so
// a join or a leave moves only what it must. Members whose configuration
// names other components (Fingerprint) get none, and show it in the
// status. Clusters of other names use other groups and topics and never
// see each other.
//
// # Contract
//
//   - Exactly one live member runs a component. A generation's end does
//     not stop a member's components: it rejoins with them running. The
//     next generation keeps running those it gives the member again, when
//     it directly follows the one the member was in (generation ids follow
//     on, so no other member held them between). It stops the rest; a
//     component that moves starts on its new member once the old member
//     wrote its release to the state topic after the component stopped,
//     or after rebalance_timeout when no release comes (release.go). A
//     component that fails between two generations is not restarted until
//     the next one grants it again (a restart could take it back from a
//     new owner), and the next generation keeps nothing when the group
//     gave this member a new id. A member not back in the group within
//     session_timeout stops them all, since the group has gone on without
//     it. A stopping daemon stops its
//     components before it leaves the group.
//   - A member that stops taking part without stopping its components
//     (frozen by SIGSTOP or a long GC pause, cut off from Kafka) is fenced,
//     not trusted to notice, in the three ways below.
//   - Fencing a sink: its next owner ends the follower session that holds
//     the sink's lock (sqlsink.Evictor: pg_terminate_backend, KILL), and
//     the old owner's commits check that lock in their own transaction.
//   - Fencing a source's stream: a PostgreSQL source's next owner ends the
//     walsender that streams from the slot (pg_terminate_backend); a
//     MariaDB or MySQL source's next owner connects with the same
//     server_id, and the server ends the older binlog dump.
//   - Fencing a source's log: every record a source writes carries its
//     owner's epoch (envelope.HeaderEpoch), and readers ignore a source's
//     records of an epoch below one they saw on its spine
//     (ordering/kafka.Reader).
//   - A source's state (checkpoint, notes, sequence scheme) moves with it
//     (Mirror): each write to the member's checkpoint store is copied to
//     the compacted topic _walship.cluster.<name>.state before it returns,
//     under the owner's epoch, and the next owner imports the newest state
//     of the highest epoch and takes the next one. A source never
//     acknowledges upstream what the topic does not hold.
//
// # Timing: what bounds a takeover
//
// After a member dies, Kafka waits session_timeout (default 10s) without a
// heartbeat (heartbeat_interval, default 1s), then the others join a new
// generation, which takes up to rebalance_timeout (default 10s) when a
// member is slow to stop its components; in practice a second. Measured
// here with session_timeout 6s: 6.7–7.4s from kill -9 to the component
// applying on another member (cmd/walship TestClusterTakeover), so about
// 11s with the defaults, within the 15s target. A member that stops
// cleanly leaves the group at once: a rolling restart pauses apply for
// about a second.
//
// # Failure modes and limits
//
//   - Every membership change is a rebalance of the whole group (Kafka's
//     eager protocol, which kafka-go implements); the hand-over above
//     makes it cooperative in effect: only the components that move stop.
//     A component whose move is overtaken by another rebalance before its
//     first member stopped it waits only for the member it was last given
//     to; fencing covers the first.
//   - A SQLite follower is a file on one machine: its lock is a file lock
//     no other process can end, so its sink moves only once the old owner
//     lets go (it dies, or resumes and stops). Run SQLite sinks on a
//     cluster whose members share that machine, or outside the cluster.
//   - A reader learns epochs from the spine it reads; one resumed from
//     its offsets reads the 256 spine records before them first. A sink
//     that restarts while a frozen owner's last records land more than 256
//     spine records after the newer owner's last one it applied may apply
//     the old owner's copy of a transaction: the same source transaction,
//     decoded the same way.
//   - A daemon that joins a cluster brings its sources' checkpoints when
//     the state topic has none for them: start the daemon that ran them
//     first. A member that owns a source the topic never held, and whose
//     own store has no checkpoint for it, starts it anew (a snapshot).
//   - Ending a predecessor's session needs the privilege to: PostgreSQL's
//     pg_signal_backend (or the same role), MariaDB's CONNECTION ADMIN
//     (or the same user).
package cluster
