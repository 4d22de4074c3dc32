package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	byteorder "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walship/walship/httpapi"
	"github.com/walship/walship/internal/testenv"
)

// TestDashboardInBrowser opens the dashboard of a live daemon in headless
// Chromium, driven through the DevTools protocol: the lag chart draws a
// line per sink and moves; a follower that becomes unreachable shows as
// paused with its error in red; a daemon that goes away shows as
// unreachable and the page recovers when it is back. Screenshots of each
// phase go to $WALSHIP_ARTIFACTS (default <tmp>/walship-artifacts).
func TestDashboardInBrowser(t *testing.T) {
	chrome := chromiumPath(t) // first: in CI a missing browser fails, never skips
	testenv.Integration(t)
	e := newE2E(t, 1)

	// The PostgreSQL follower sink reaches its server through a proxy the
	// test can take away.
	fol, err := url.Parse(testenv.PGFollower(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startTCPProxy(t, fol.Host)
	httpAddr := freePort(t)
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	proxied := strings.Replace(e.pgDSN, "@"+fol.Host+"/", "@"+proxy.Addr()+"/", 1)
	text := strings.Replace(string(cfg), `http: { listen: "off" }`, `http: { listen: "`+httpAddr+`" }`, 1)
	text = strings.Replace(text, fmt.Sprintf("dsn: %q", e.pgDSN), fmt.Sprintf("dsn: %q", proxied), 1)
	if !strings.Contains(text, proxied) || !strings.Contains(text, httpAddr) {
		t.Fatalf("could not rewrite the config:\n%s", text)
	}
	if err := os.WriteFile(e.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	base := "http://" + httpAddr + "/"
	waitHTTP(t, e, base, "lag-chart", 30*time.Second)
	e.waitRows("accounts", accounts, 45*time.Second)

	// Traffic in bursts, so that the sinks lag a little now and then: for
	// 1.5 s of every 3 s two connections commit as fast as they can, small
	// transactions and now and then one of 200 rows.
	ctx, stopTraffic := context.WithCancel(context.Background())
	var traffic sync.WaitGroup
	for w := int64(0); w < 2; w++ {
		traffic.Add(1)
		go func() {
			defer traffic.Done()
			for i := int64(1); ctx.Err() == nil; i++ {
				if time.Now().UnixMilli()%3000 >= 1500 {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if i%50 == 0 {
					e.src.ExecContext(ctx, "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series($1::bigint, $1::bigint + 199) g", (w*1_000_000+i)*1000)
				} else {
					e.src.ExecContext(ctx, "UPDATE accounts SET version = version + 1 WHERE id = $1", (i*2+w)%accounts+1)
				}
			}
		}()
	}
	t.Cleanup(func() { stopTraffic(); traffic.Wait() })

	b := startChromium(t, chrome, e.dir)
	page := b.open(t, base)
	shots := artifactDir(t)
	shot := func(phase string) {
		t.Helper()
		p := filepath.Join(shots, "TestDashboardInBrowser-"+phase+".png")
		if err := page.screenshot(p); err != nil {
			t.Errorf("screenshot %s: %v", phase, err)
			return
		}
		t.Logf("screenshot: %s", p)
	}
	failed := func(format string, args ...any) {
		t.Helper()
		shot("failure")
		obs, _ := observe(page)
		t.Fatalf(format+"\npage: %+v\njs errors: %v\nlog tail:\n%s", append(args, obs, page.jsErrors(), e.logTail())...)
	}
	waitPage := func(what string, timeout time.Duration, ok func(o pageObs) bool) pageObs {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			o, err := observe(page)
			if err == nil && ok(o) {
				return o
			}
			if time.Now().After(deadline) {
				failed("timed out after %s waiting for %s (last error %v)", timeout, what, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// Phase 1: live. Both sinks have lines, and the chart moves.
	enough := func(o pageObs) bool {
		return o.Connection == "ok" && o.SeriesPoints["pgf"] >= 3 && o.SeriesPoints["lite"] >= 3 &&
			o.Rows["pgf"].State == "applying" && o.Rows["lite"].State == "applying"
	}
	first := waitPage("the lag chart to draw the pgf and lite sinks", 30*time.Second, enough)
	time.Sleep(3 * time.Second)
	second := waitPage("the lag chart again", 5*time.Second, enough)
	if first.Last == second.Last || first.Image == second.Image {
		failed("the lag chart did not change in 3 s: newest sample %s then %s, image %s then %s", first.Last, second.Last, first.Image, second.Image)
	}
	if second.Series < 2 {
		failed("the lag chart draws %d series, want at least 2", second.Series)
	}
	t.Logf("live: %d points in %d series (%v), newest sample %s → %s, largest lag drawn %.3f s", second.Points, second.Series, second.SeriesPoints, first.Last, second.Last, second.Max)
	shot("1-live")

	// Phase 2: the PostgreSQL follower goes away; the sink shows paused,
	// with its error in red, and the others keep applying.
	proxy.Close()
	down := waitPage("sink pgf to show paused with its error", 30*time.Second, func(o pageObs) bool {
		r := o.Rows["pgf"]
		return r.State == "paused" && r.Error != "" && r.ErrorTime != ""
	})
	// The chart shows the pause too (dashed) once it has a few samples.
	down = waitPage("the paused samples of pgf in the chart's history", 10*time.Second, func(o pageObs) bool {
		return o.Rows["pgf"].State == "paused" && o.Paused["pgf"] >= 3
	})
	r := down.Rows["pgf"]
	if !isRed(r.ErrorColor) {
		failed("pgf's error is shown in %s, want red", r.ErrorColor)
	}
	if s := down.Rows["lite"].State; s != "applying" {
		failed("sink lite shows %q while pgf's follower is down, want applying", s)
	}
	t.Logf("follower down: pgf %s, error at %s in %s: %s", r.State, r.ErrorTime, r.ErrorColor, r.Error)
	shot("2-follower-down")

	// Phase 3: the follower comes back; the sink catches up on what it
	// missed and applies again, its error gone.
	proxy.Reopen(t)
	// (The status API keeps an error for a minute after the recovery; the
	// page marks it recovered.)
	up := waitPage("sink pgf to apply again", 30*time.Second, func(o pageObs) bool {
		r := o.Rows["pgf"]
		return r.State == "applying" && (r.Error == "" || r.Recovered)
	})
	time.Sleep(1500 * time.Millisecond) // a sample or two after the catch-up
	up, _ = observe(page)
	t.Logf("follower back: pgf %s; largest lag drawn %.3f s", up.Rows["pgf"].State, up.Max)
	shot("3-follower-back")

	// Phase 4: the daemon goes away and comes back; the page follows
	// without a reload.
	polls := up.Polls
	e.stop(syscall.SIGKILL)
	gone := waitPage("the page to show the daemon unreachable", 10*time.Second, func(o pageObs) bool {
		return o.Connection == "unreachable" && o.Banner
	})
	shot("4-daemon-unreachable")
	e.start()
	back := waitPage("the page to recover after the restart", 30*time.Second, func(o pageObs) bool {
		return o.Connection == "ok" && !o.Banner && o.Rows["lite"].State != "" && o.Polls > gone.Polls
	})
	shot("5-daemon-back")
	if back.Reloads != 0 || back.Polls <= polls {
		failed("the page reloaded (%d) or stopped polling (%d → %d)", back.Reloads, polls, back.Polls)
	}
	if errs := page.jsErrors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the page: %v", errs)
	}
}

// TestDashboardHandler checks the embedded page without a browser: its
// three files, and nothing that would make it fetch from elsewhere.
func TestDashboardHandler(t *testing.T) {
	h := httpapi.Dashboard()
	for path, want := range map[string]string{
		"/":              "text/html",
		"/index.html":    "text/html",
		"/dashboard.js":  "text/javascript",
		"/dashboard.css": "text/css",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), want) || body == "" {
			t.Errorf("GET %s: %d %q, %d bytes", path, rec.Code, rec.Header().Get("Content-Type"), len(body))
		}
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"']`).FindString(body); m != "" {
			t.Errorf("GET %s refers to another host: %q", path, m)
		}
	}
	for _, id := range []string{`id="lag-chart"`, `id="sinks-table"`, `id="sources-table"`, `id="unreachable"`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if !strings.Contains(rec.Body.String(), id) {
			t.Errorf("the page has no %s", id)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/nope", 404}, {"GET", "/dashboard", 404}, {"POST", "/", 405}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
	// A revalidation is answered 304.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard.js", nil))
	req := httptest.NewRequest(http.MethodGet, "/dashboard.js", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", rec.Code)
	}
}

// pageObs is what the test reads of the page.
type pageObs struct {
	Connection   string
	Banner       bool
	Points       int
	Series       int
	SeriesPoints map[string]int
	Last         string
	Max          float64 // the largest lag drawn, in seconds
	Image        string  // a hash of the lag chart's pixels
	Polls        int
	Reloads      int
	Rows         map[string]pageRow
	Paused       map[string]int // paused samples per sink in the page's history
}

type pageRow struct {
	State, Error, ErrorTime, ErrorColor string
	Recovered                           bool // the error is marked as past
}

const observeJS = `(() => {
  const c = document.getElementById('lag-chart');
  const rows = {};
  for (const tr of document.querySelectorAll('#sinks-table tr[data-sink]')) {
    const st = tr.querySelector('.state'), er = tr.querySelector('.error-text'), et = tr.querySelector('.error-time');
    rows[tr.dataset.sink] = {State: st ? st.textContent.trim() : '', Error: er ? er.textContent : '',
      ErrorTime: et ? et.textContent : '', ErrorColor: er ? getComputedStyle(er).color : '',
      Recovered: !!tr.querySelector('.error.recovered')};
  }
  const sp = {};
  for (const kv of (c.dataset.seriesPoints || '').split(',')) {
    const i = kv.lastIndexOf(':');
    if (i > 0) sp[kv.slice(0, i)] = Number(kv.slice(i + 1));
  }
  const paused = {};
  const hist = (window.walshipDashboard && window.walshipDashboard.history) || {};
  for (const [name, h] of Object.entries(hist)) paused[name] = h.filter((x) => x.state === 'paused').length;
  const img = c.toDataURL();
  let h = 0;
  for (let i = 0; i < img.length; i++) h = (Math.imul(h, 31) + img.charCodeAt(i)) | 0;
  const nav = performance.getEntriesByType('navigation')[0];
  return JSON.stringify({Connection: document.body.dataset.connection, Banner: !document.getElementById('unreachable').hidden,
    Points: Number(c.dataset.points), Series: Number(c.dataset.series), SeriesPoints: sp, Last: c.dataset.last || '',
    Image: img.length + ':' + h, Polls: window.walshipDashboard ? window.walshipDashboard.polls : 0,
    Reloads: nav && nav.type === 'reload' ? 1 : 0, Rows: rows, Paused: paused, Max: Number(c.dataset.max)});
})()`

func observe(p *cdpPage) (pageObs, error) {
	var o pageObs
	s, err := p.eval(observeJS)
	if err != nil {
		return o, err
	}
	err = json.Unmarshal([]byte(s), &o)
	return o, err
}

var rgbRE = regexp.MustCompile(`rgba?\((\d+),\s*(\d+),\s*(\d+)`)

func isRed(css string) bool {
	m := rgbRE.FindStringSubmatch(css)
	if m == nil {
		return false
	}
	r, _ := strconv.Atoi(m[1])
	g, _ := strconv.Atoi(m[2])
	b, _ := strconv.Atoi(m[3])
	return r >= 150 && g <= 90 && b <= 90
}

// waitHTTP waits until url answers 200 with a body containing want.
func waitHTTP(t *testing.T, e *e2e, url, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := get(url)
		if err == nil && code == 200 && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %v (want 200 with %q: is the dashboard mounted at GET /?)\n%.300s\nlog tail:\n%s", url, code, err, want, body, e.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// artifactDir is where screenshots are kept: $WALSHIP_ARTIFACTS, or
// walship-artifacts in $GOTMPDIR or the system's temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("WALSHIP_ARTIFACTS")
	if dir == "" {
		tmp := os.Getenv("GOTMPDIR")
		if tmp == "" {
			tmp = os.TempDir()
		}
		dir = filepath.Join(tmp, "walship-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromiumPath finds the browser: $WALSHIP_CHROMIUM, or chromium on PATH.
// Without one the test fails in CI and in integration runs, and is skipped
// otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WALSHIP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found (apt-get install chromium, or run deploy/local/install-deps.sh; or set WALSHIP_CHROMIUM)"
	if os.Getenv("CI") == "true" || os.Getenv(testenv.EnvIntegration) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// ---------- a TCP proxy the test can take away ----------

type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(p.Close)
	go p.accept(ln)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// Reopen listens again on the same address after Close.
func (p *tcpProxy) Reopen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.Addr())
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.Addr(), err)
	}
	p.mu.Lock()
	p.ln, p.closed = ln, false
	p.mu.Unlock()
	go p.accept(ln)
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) serve(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		c.Close()
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// Close stops accepting (new connections are refused) and cuts every
// connection.
func (p *tcpProxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
}

// ---------- headless Chromium over the DevTools protocol ----------

type browser struct {
	port string
}

// startChromium starts a headless browser; it is killed, with every
// process it started, when the test ends.
func startChromium(t *testing.T, chrome, logDir string) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "walship-chromium")
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(logDir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chrome, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=1400,1000", "about:blank")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the browser's process group: its renderers too
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		logf.Close()
		os.RemoveAll(profile)
	})
	// Chromium writes the port it bound to DevToolsActivePort.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			if port, _, ok := strings.Cut(string(b), "\n"); ok && port != "" {
				return &browser{port: port}
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("chromium exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("chromium did not open its DevTools port in 30 s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// open makes a new tab on url and connects to it.
func (b *browser) open(t *testing.T, pageURL string) *cdpPage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+b.port+"/json/new?"+url.QueryEscape(pageURL), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	defer resp.Body.Close()
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("open a tab: %s: %v", resp.Status, err)
	}
	ws, err := dialWebSocket(target.WebSocketDebuggerURL)
	if err != nil {
		t.Fatalf("connect to the tab: %v", err)
	}
	p := &cdpPage{ws: ws, pending: map[int64]chan cdpMessage{}}
	t.Cleanup(func() { ws.Close() })
	go p.readLoop()
	for _, c := range []struct {
		method string
		params any
	}{
		{"Runtime.enable", nil},
		{"Page.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}},
	} {
		if err := p.call(c.method, c.params, nil); err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
	}
	return p
}

type cdpMessage struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// cdpPage is a DevTools protocol session with one tab.
type cdpPage struct {
	ws      *wsConn
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	errs    []string // exceptions and console errors of the page
	dead    error
}

func (p *cdpPage) readLoop() {
	for {
		data, err := p.ws.ReadMessage()
		if err != nil {
			p.mu.Lock()
			p.dead = err
			for id, ch := range p.pending {
				close(ch)
				delete(p.pending, id)
			}
			p.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		p.mu.Lock()
		if m.ID != 0 {
			if ch, ok := p.pending[m.ID]; ok {
				ch <- m
				delete(p.pending, m.ID)
			}
		} else {
			switch m.Method {
			case "Runtime.exceptionThrown":
				p.errs = append(p.errs, string(m.Params))
			case "Runtime.consoleAPICalled":
				var c struct {
					Type string `json:"type"`
				}
				if json.Unmarshal(m.Params, &c) == nil && c.Type == "error" {
					p.errs = append(p.errs, string(m.Params))
				}
			}
		}
		p.mu.Unlock()
	}
}

func (p *cdpPage) jsErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// call sends one command and decodes its result into out (if not nil).
func (p *cdpPage) call(method string, params, out any) error {
	p.mu.Lock()
	if p.dead != nil {
		p.mu.Unlock()
		return p.dead
	}
	p.nextID++
	id := p.nextID
	ch := make(chan cdpMessage, 1)
	p.pending[id] = ch
	p.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	data, _ := json.Marshal(msg)
	if err := p.ws.WriteText(data); err != nil {
		return err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-time.After(20 * time.Second):
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return fmt.Errorf("%s: no answer in 20 s", method)
	}
}

// eval runs expression, which must give a string, in the page.
func (p *cdpPage) eval(expression string) (string, error) {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.call("Runtime.evaluate", map[string]any{"expression": expression, "returnByValue": true}, &r); err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", fmt.Errorf("evaluate: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	var s string
	if err := json.Unmarshal(r.Result.Value, &s); err != nil {
		return "", fmt.Errorf("evaluate gave %s %s, want a string", r.Result.Type, r.Result.Value)
	}
	return s, nil
}

// screenshot writes a PNG of the whole page.
func (p *cdpPage) screenshot(path string) error {
	var m struct {
		CSSContentSize struct{ Width, Height float64 } `json:"cssContentSize"`
	}
	if err := p.call("Page.getLayoutMetrics", nil, &m); err != nil {
		return err
	}
	h := max(m.CSSContentSize.Height, 600)
	var r struct {
		Data string `json:"data"`
	}
	if err := p.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": 1400, "height": h, "scale": 1}}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// ---------- a minimal WebSocket client (RFC 6455): text frames out, any in ----------

type wsConn struct {
	c   net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
}

func dialWebSocket(rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, key)
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	return &wsConn{c: c, br: br}, nil
}

func (w *wsConn) Close() error { return w.c.Close() }

// writeFrame sends one final frame; a client masks what it sends.
func (w *wsConn) writeFrame(opcode byte, payload []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	hdr := []byte{0x80 | opcode}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = byteorder.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	buf := make([]byte, len(hdr)+n)
	copy(buf, hdr)
	for i, b := range payload {
		buf[len(hdr)+i] = b ^ mask[i%4]
	}
	_, err := w.c.Write(buf)
	return err
}

func (w *wsConn) WriteText(p []byte) error { return w.writeFrame(0x1, p) }

// ReadMessage returns the next text or binary message, answering pings
// and joining fragments.
func (w *wsConn) ReadMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = uint64(byteorder.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = byteorder.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		masked := h[1]&0x80 != 0
		if masked {
			if _, err := io.ReadFull(w.br, mask[:]); err != nil {
				return nil, err
			}
		}
		if n > 256<<20 {
			return nil, fmt.Errorf("websocket: frame of %d bytes", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.br, payload); err != nil {
			return nil, err
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x8: // close
			w.writeFrame(0x8, nil)
			return nil, errors.New("websocket: closed by the browser")
		case 0x9: // ping
			if err := w.writeFrame(0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA: // pong
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}
