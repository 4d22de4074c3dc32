package sourcetest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/walship/walship/internal/logread"
	"github.com/walship/walship/ordering/envelope"
	"github.com/walship/walship/ordering/kafka"
	"github.com/walship/walship/sources"
)

// Publisher makes a source's Logs: publishers of enc's records to topics
// under prefix on broker, three partitions each.
func Publisher(broker, prefix string, enc *envelope.Encoder) func() (sources.Log, error) {
	return func() (sources.Log, error) {
		return kafka.NewPublisher(kafka.Config{Brokers: []string{broker}, TopicPrefix: prefix, Partitions: 3}, enc), nil
	}
}

// Read reads the log under prefix back, within a minute.
func Read(t testing.TB, broker, prefix string) *logread.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := logread.Read(ctx, broker, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Logger is a source's logger: debug on stderr with -v, else nowhere.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
