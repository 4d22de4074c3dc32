// Package supervise runs walship's long-lived streams (sources, sinks, the
// HTTP server) and keeps them running.
//
// Contract:
//   - A Group runs named components. Each component's run function is
//     called with a context that is cancelled when the group stops; it
//     returns nil only when that context is done.
//   - A component that returns an error, or panics, is restarted after an
//     exponential backoff with jitter, unless the error is Permanent: then
//     the component stays in the sticky Failed state, with its error, until
//     the process restarts, and the rest of the group keeps running.
//   - A component whose run function returns nil before the group stops is
//     done (Stopped) and not restarted.
//   - Status reports every component's state, last error and its time, for
//     the status API, /readyz and metrics. It is safe from any goroutine.
//   - Stop cancels every component and waits for them up to a deadline.
//
// The package never logs the row data of anything; it logs component names,
// states and errors through the injected *slog.Logger.
package supervise
