package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/walship/walship/config"
	"github.com/walship/walship/offsets"
	"github.com/walship/walship/sources"
)

// resnapshot takes a new consistent snapshot of each source of the sink
// into the log: it resets the source (its checkpoint, and a PostgreSQL
// slot: Engines.ResetSource) under the source's lock, so no daemon may be capturing it, and
// runs the source until its snapshot is durable in Kafka.
func (j *job) resnapshot(ctx context.Context) error {
	store, err := offsets.OpenStore(j.cfg.StateDir)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, name := range j.sk.From {
		var sc config.Source
		for _, s := range j.cfg.Sources {
			if s.Name == name {
				sc = s
			}
		}
		if sc.External != "" {
			return fmt.Errorf("--resnapshot: source %s is captured by another daemon (external: %s); run the re-snapshot with that daemon's config", name, sc.External)
		}
		if err := j.resnapshotSource(ctx, sc, store); err != nil {
			return fmt.Errorf("--resnapshot: source %s: %w", name, err)
		}
	}
	return nil
}

func (j *job) resnapshotSource(ctx context.Context, sc config.Source, store *offsets.Store) error {
	release, err := offsets.LockSource(j.cfg.StateDir, sc.Name)
	if err != nil {
		return fmt.Errorf("%w (is the daemon running? stop it first)", err)
	}
	defer release()
	switch {
	case sc.Postgres != nil:
		pg := *sc.Postgres
		pg.Snapshot = "initial"
		sc.Postgres = &pg
	case sc.MySQL != nil:
		my := *sc.MySQL
		my.Snapshot = "initial"
		sc.MySQL = &my
	}
	if j.eng.ResetSource != nil {
		if err := j.eng.ResetSource(ctx, sc); err != nil {
			return err
		}
	}
	if err := store.Delete(ctx, sc.Name); err != nil {
		return fmt.Errorf("delete the checkpoint: %w", err)
	}
	fmt.Fprintf(j.progress, "replay: source %s: checkpoint deleted; taking a new snapshot into the log\n", sc.Name)
	src, err := j.eng.Source(sc, store)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx, func() {}) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return fmt.Errorf("the source stopped before its snapshot was durable: %w", err)
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
		cp, err := store.Load(ctx, sc.Name)
		if err == nil && cp.SnapshotDone {
			st := src.Status()
			cancel()
			if err := <-done; err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("stop the source: %w", err)
			}
			fmt.Fprintf(j.progress, "replay: source %s: snapshot of %d rows durable in the log at %s\n", sc.Name, st.SnapshotRows, cp.Position)
			return nil
		}
		if st := src.Status(); st.State == sources.StateFailed {
			cancel()
			<-done
			return fmt.Errorf("the source failed: %s", st.LastError)
		}
	}
}
