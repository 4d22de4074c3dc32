package mysql

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/replication"
)

// syncHandler handles events synchronously for durability: semisync: go-mysql
// sends the semi-sync acknowledgement of an event only once HandleEvent
// returns, and HandleEvent returns for the last event of a transaction only
// once Kafka holds the transaction. With semi-sync on the server, a COMMIT
// then returns only when its change is durable in Kafka.
//
// HandleEvent runs on go-mysql's goroutine; while it runs, wait only waits,
// so the session is used by one goroutine at a time.
type syncHandler struct {
	r   *session
	ctx context.Context
}

// HandleEvent implements replication.EventHandler.
func (h *syncHandler) HandleEvent(ev *replication.BinlogEvent) error {
	r := h.r
	if err := r.out.Err(); err != nil {
		return fmt.Errorf("source %s: log write failed; restarting from the durable position: %w", r.cfg().Name, err)
	}
	if err := r.persist(h.ctx, false); err != nil {
		return err
	}
	if err := r.event(h.ctx, ev); err != nil {
		return err
	}
	switch ev.Event.(type) {
	case *replication.XIDEvent, *replication.QueryEvent:
	default:
		if ev.Header.EventType != replication.XA_PREPARE_LOG_EVENT { // MySQL's XA COMMIT ... ONE PHASE ends there
			return nil
		}
	}
	// The end of a transaction (or a statement): wait for Kafka.
	for r.out.Pending() > 0 {
		if err := r.out.Err(); err != nil {
			return err
		}
		select {
		case <-h.ctx.Done():
			return h.ctx.Err()
		case <-r.out.Notify():
		}
	}
	return nil
}

// wait blocks until ctx is done (then stops the stream and drains) or the
// stream fails.
func (h *syncHandler) wait(ctx context.Context, st *replication.BinlogStreamer) error {
	// In synchronous mode no event reaches the streamer; only its error does.
	_, err := st.GetEvent(ctx)
	if ctx.Err() != nil {
		h.r.syncer.Close()
		h.r.syncer = nil
		return h.r.drain()
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return h.r.classify(fmt.Errorf("source %s: binlog stream: %w", h.r.cfg().Name, err))
}
