package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, resolves and validates the config file at path. Any
// problem comes back as Errors listing every problem with its line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on bytes already read; lookup resolves ${NAME} references.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxError(file, err)}
	}
	d := &decoder{file: file, lookup: lookup, nodes: map[string]*yaml.Node{}}
	cfg := &Config{File: file}
	if len(root.Content) == 0 {
		return nil, Errors{{File: file, Msg: "the file is empty"}}
	}
	d.decode(&root, reflect.ValueOf(cfg).Elem(), "")
	if len(d.errs) == 0 {
		d.readSecretFiles(cfg)
	}
	cfg.applyDefaults()
	d.validate(cfg)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	cfg.lines = make(map[string]int, len(d.nodes))
	for p, n := range d.nodes {
		cfg.lines[p] = n.Line
	}
	return cfg, nil
}

// At is where the key path (as errors name it: "sources[0].where.public.t")
// is in the file, "file:line", or the file alone when the key is not in
// it; for problems found later, against the servers.
func (c *Config) At(path string) string {
	for p := path; p != ""; {
		if line, ok := c.lines[p]; ok && line > 0 {
			return fmt.Sprintf("%s:%d", c.File, line)
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return c.File
}

// syntaxError turns a YAML parse error into an Error with its line.
// yaml.v3 has no structured position for syntax errors: the line is only
// in the message ("yaml: line N: ..."), so it is read from there. For the
// errors that carry a context ("did not find expected ...": an unclosed
// '[' or '{', a missing key), yaml.v3 gives the context's line 0-based,
// one line early: it is the line where that bracket or block opened.
func syntaxError(file string, err error) *Error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return &Error{File: file, Msg: strings.Join(te.Errors, "; ")}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, tail
				if strings.HasPrefix(tail, "did not find expected") {
					line++
					msg = "unclosed or unterminated here: " + tail
				}
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "not valid YAML: " + msg}
}

// readSecretFiles replaces every password_file with the file's trimmed
// content. Setting both password and password_file is an error.
func (d *decoder) readSecretFiles(cfg *Config) {
	readKey := func(path, key string, pw *Secret, file string) {
		if file == "" {
			return
		}
		n := d.nodes[path+"."+key+"_file"]
		if *pw != "" {
			d.errorf(n, path, "set %s or %s_file, not both", key, key)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			d.errorf(n, path+"."+key+"_file", "cannot read secret file: %v", err)
			return
		}
		*pw = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	read := func(path string, pw *Secret, file string) { readKey(path, "password", pw, file) }
	readKey("http", "token", &cfg.HTTP.Token, cfg.HTTP.TokenFile)
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		readKey(p, "hash_key", &s.HashKey, s.HashKeyFile)
		if s.Postgres != nil {
			read(p+".postgres", &s.Postgres.Password, s.Postgres.PasswordFile)
		}
		if s.MySQL != nil {
			read(p+".mysql", &s.MySQL.Password, s.MySQL.PasswordFile)
		}
	}
	if cfg.Kafka.SASL != nil {
		read("kafka.sasl", &cfg.Kafka.SASL.Password, cfg.Kafka.SASL.PasswordFile)
	}
	for i, s := range cfg.Sinks {
		p := fmt.Sprintf("sinks[%d]", i)
		if s.Postgres != nil {
			read(p+".postgres", &s.Postgres.Password, s.Postgres.PasswordFile)
		}
		if s.MySQL != nil {
			read(p+".mysql", &s.MySQL.Password, s.MySQL.PasswordFile)
		}
	}
}
