// Package benchkit is what walship's benchmark harnesses (make bench-*)
// share: settings from the environment, quiet loggers, CPU time, topic
// clean-up and the JSON results files under bench/results.
//
// Contract: test support only, imported by _test.go files. Results files
// are <WALSHIP_BENCH_OUT or <repo>/bench/results>/<name>-<local time>.json
// ("-" writes none); every file records the machine, Go, git revision and
// Kafka version beside the benchmark's own fields. Nothing here asserts
// timings: figures are printed and written, never compared in a test.
package benchkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Logger discards logs unless the benchmark runs with -v; then it writes
// level and above to stderr.
func Logger(level slog.Level) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// EnvInt is the positive integer in $name, or def when it is unset.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// EnvInts is the comma-separated positive integers in $name, or def.
func EnvInts(tb testing.TB, name string, def []int) []int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			tb.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

// ProcessCPU is this process's user + system CPU time so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MachineCPU returns the busy and total jiffies of all CPUs (/proc/stat).
func MachineCPU() (busy, total float64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, s := range fields[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, _ := strconv.ParseFloat(s, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// DeleteTopics deletes topics (comma-separated brokers), logging failures
// other than a topic already gone.
func DeleteTopics(ctx context.Context, tb testing.TB, brokers string, topics ...string) {
	c := &kafkago.Client{Addr: kafkago.TCP(strings.Split(brokers, ",")...), Timeout: 20 * time.Second}
	res, err := c.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: topics})
	if err != nil {
		tb.Logf("delete topics: %v", err)
		return
	}
	for t, err := range res.Errors {
		if err != nil && !errors.Is(err, kafkago.UnknownTopicOrPartition) {
			tb.Logf("delete topic %s: %v", t, err)
		}
	}
}

// WriteResult writes fields, with the date, machine, Go version, git
// revision and Kafka version added, to <dir>/<name>-<date>.json, and
// prints the path.
func WriteResult(tb testing.TB, name string, fields map[string]any) {
	tb.Helper()
	dir := os.Getenv("WALSHIP_BENCH_OUT")
	if dir == "-" {
		return
	}
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			tb.Logf("results not written: %v", err)
			return
		}
		dir = filepath.Join(root, "bench", "results")
	}
	now := time.Now()
	kernel, _ := exec.Command("uname", "-r").Output()
	rev, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	out := map[string]any{
		"date": now.UTC().Format(time.RFC3339),
		"machine": map[string]any{
			"nproc":  runtime.NumCPU(),
			"kernel": strings.TrimSpace(string(kernel)),
			"cpu":    cpuModel(),
			"goos":   runtime.GOOS,
			"goarch": runtime.GOARCH,
		},
		"go_version":    runtime.Version(),
		"git_revision":  strings.TrimSpace(string(rev)),
		"git_dirty":     len(strings.TrimSpace(string(dirty))) > 0,
		"kafka_version": os.Getenv("WALSHIP_KAFKA_VERSION"),
	}
	for k, v := range fields {
		out[k] = v
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name+"-"+now.Format("2006-01-02T150405")+".json")
	if err := os.WriteFile(path, []byte(buf.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("results: %s", path)
	fmt.Println("results:", path)
}

// ModVersion is a dependency's version: from the build info, or (test
// binaries record no dependencies) from the repository's go.mod.
func ModVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require ")); len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}

// RepoRoot is $WALSHIP_ROOT, or the nearest folder above the working
// directory holding go.mod.
func RepoRoot() (string, error) {
	if r := os.Getenv("WALSHIP_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func cpuModel() string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// CPUProfile starts a CPU profile of this process into path, unless path
// is empty; the returned func stops it. It cannot run beside go test
// -cpuprofile.
func CPUProfile(tb testing.TB, path string) (stop func()) {
	tb.Helper()
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		tb.Fatalf("WALSHIP_BENCH_CPUPROFILE: %v (not with go test -cpuprofile)", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		tb.Logf("walship CPU profile: %s", path)
	}
}
