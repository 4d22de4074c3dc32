package supervise

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// State of a component.
type State string

// The states.
const (
	Starting State = "starting"
	Running  State = "running"
	Backoff  State = "backoff" // failed, waiting to restart
	Failed   State = "failed"  // permanent error; not restarted
	Stopped  State = "stopped"
)

// Status is a snapshot of one component.
type Status struct {
	Name      string
	State     State
	Restarts  int
	LastError string // empty when none
	ErrorTime time.Time
	Since     time.Time // when State was entered
}

// Options tune restarts. The zero value uses the defaults.
type Options struct {
	// InitialBackoff before the first restart. Default: 500ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between restarts. Default: 10s (what
	// Debezium waits before restarting a failed connector): after an outage
	// the pipeline resumes within seconds of the server coming back.
	MaxBackoff time.Duration
	// HealthyAfter resets the backoff when a run lasted this long.
	// Default: 1m.
	HealthyAfter time.Duration
}

func (o Options) withDefaults() Options {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.HealthyAfter <= 0 {
		o.HealthyAfter = time.Minute
	}
	return o
}

// RunFunc is a component's body. It calls ready() once it is serving (for
// /readyz), and returns when ctx is done.
type RunFunc func(ctx context.Context, ready func()) error

// Group supervises components. Create it with New.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	opts   Options
	wg     sync.WaitGroup

	mu     sync.Mutex
	status map[string]*Status
}

// New returns a Group whose components run until parent is done or Stop is
// called.
func New(parent context.Context, log *slog.Logger, opts Options) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel, log: log, opts: opts.withDefaults(), status: map[string]*Status{}}
}

// Go starts a supervised component. Names must be unique.
func (g *Group) Go(name string, run RunFunc) {
	g.mu.Lock()
	if _, dup := g.status[name]; dup {
		g.mu.Unlock()
		panic("supervise: duplicate component " + name)
	}
	g.status[name] = &Status{Name: name, State: Starting, Since: time.Now()}
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.supervise(name, run)
	}()
}

func (g *Group) supervise(name string, run RunFunc) {
	log := g.log.With("component", name)
	b := &backoff.ExponentialBackOff{
		InitialInterval:     g.opts.InitialBackoff,
		RandomizationFactor: 0.3,
		Multiplier:          2,
		MaxInterval:         g.opts.MaxBackoff,
	}
	b.Reset()
	for {
		started := time.Now()
		err := g.runOnce(name, run)
		if g.ctx.Err() != nil {
			g.set(name, Stopped, nil)
			return
		}
		if err == nil {
			log.Info("component finished")
			g.set(name, Stopped, nil)
			return
		}
		if IsPermanent(err) {
			log.Error("component failed permanently; not restarting", "err", err)
			g.set(name, Failed, err)
			return
		}
		if time.Since(started) >= g.opts.HealthyAfter {
			b.Reset()
		}
		wait := b.NextBackOff()
		log.Warn("component failed; restarting", "err", err, "backoff", wait.Round(time.Millisecond))
		g.set(name, Backoff, err)
		select {
		case <-g.ctx.Done():
			g.set(name, Stopped, nil)
			return
		case <-time.After(wait):
		}
		g.mu.Lock()
		g.status[name].Restarts++
		g.mu.Unlock()
	}
}

// runOnce runs the component once, turning a panic into a *PanicError.
func (g *Group) runOnce(name string, run RunFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	g.set(name, Starting, nil)
	return run(g.ctx, func() { g.set(name, Running, nil) })
}

// set records a state change. A nil err keeps the last error on record.
func (g *Group) set(name string, s State, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.status[name]
	if st.State != s {
		st.State, st.Since = s, time.Now()
	}
	if err != nil {
		st.LastError, st.ErrorTime = err.Error(), time.Now()
	}
}

// Status returns every component's status, sorted by name.
func (g *Group) Status() []Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Status, 0, len(g.status))
	for _, s := range g.status {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ready reports whether every component is Running, and the names of those
// that are not.
func (g *Group) Ready() (bool, []string) {
	var not []string
	for _, s := range g.Status() {
		if s.State != Running {
			not = append(not, s.Name+" ("+string(s.State)+")")
		}
	}
	return len(not) == 0, not
}

// Done is closed when the group's context is cancelled.
func (g *Group) Done() <-chan struct{} { return g.ctx.Done() }

// Stop cancels every component and waits for all to return, up to timeout.
func (g *Group) Stop(timeout time.Duration) error {
	g.cancel()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		var still []string
		for _, s := range g.Status() {
			if s.State != Stopped && s.State != Failed {
				still = append(still, s.Name)
			}
		}
		return errors.Join(ErrStopTimeout, errors.New("still running: "+strings.Join(still, ", ")))
	}
}
