package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/walship/walship/offsets"
	"github.com/walship/walship/ordering/envelope"
)

// tailWindow is how many spine records LastShipped reads at a time,
// going back from the end.
const tailWindow = 256

// LastShipped returns the position of the newest transaction of source
// whose END marker the log holds (its spine, read back from the end), and
// whether there is one: what the source shipped, durable or not, which a
// restart from its checkpoint may not know. Sources check it against a new
// leader (a promoted replica must hold what followers may have applied).
func (p *Publisher) LastShipped(ctx context.Context, source string) (offsets.Position, bool, error) {
	return LastShipped(ctx, p.cfg.Brokers, p.cfg.Security, p.cfg.DialTimeout, TransactionTopic(p.cfg.TopicPrefix), source)
}

// LastShipped reads the spine topic back from its end for the newest END
// marker of source.
func LastShipped(ctx context.Context, brokers []string, sec Security, timeout time.Duration, spine, source string) (offsets.Position, bool, error) {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := sec.Dialer(timeout)
	var conn *kafkago.Conn
	var err error
	for _, b := range brokers {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		conn, err = d.DialLeader(dctx, "tcp", b, spine, 0)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		if errors.Is(err, kafkago.UnknownTopicOrPartition) {
			return offsets.Position{}, false, nil
		}
		return offsets.Position{}, false, fmt.Errorf("read the end of %s: %w", spine, err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return offsets.Position{}, false, fmt.Errorf("read the end of %s: %w", spine, err)
	}
	for end := last; end > first; end -= tailWindow {
		from := max(first, end-tailWindow)
		var pos offsets.Position
		found := false
		// A fetch may stop short of end (at a segment's end): read on.
		for off := from; off < end; {
			if _, err := conn.Seek(off, kafkago.SeekAbsolute); err != nil {
				return offsets.Position{}, false, fmt.Errorf("read the end of %s: %w", spine, err)
			}
			conn.SetReadDeadline(time.Now().Add(timeout))
			batch := conn.ReadBatch(1, 64<<20)
			start := off
			for {
				m, err := batch.ReadMessage()
				if err != nil || m.Offset >= end {
					break
				}
				off = m.Offset + 1
				mk, err := envelope.DecodeMarker(record(m))
				if err != nil || mk.Status != envelope.StatusEnd || mk.Source != source {
					continue // another source's, or not a marker this walship knows
				}
				pos, found = mk.Pos, true
			}
			if err := batch.Close(); err != nil && !errors.Is(err, kafkago.OffsetOutOfRange) {
				return offsets.Position{}, false, fmt.Errorf("read the end of %s: %w", spine, err)
			}
			if off == start {
				return offsets.Position{}, false, fmt.Errorf("read the end of %s: no record at offset %d of %d..%d", spine, off, first, last)
			}
		}
		if found {
			return pos, true, nil
		}
	}
	return offsets.Position{}, false, nil
}
