package preflight

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateTarget checks state_dir, where the daemon keeps its checkpoints and
// locks: a directory walship can write, or one it can create.
func stateTarget(dir string) target {
	return target{
		res:     Result{Target: "state_dir", Engine: "local", Addr: dir},
		timeout: 5 * time.Second,
		run:     func(ctx context.Context, r *Result) { checkStateDir(r, dir) },
	}
}

func checkStateDir(r *Result, dir string) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// run creates it: its nearest existing parent must be a writable
		// directory.
		parent := filepath.Dir(filepath.Clean(dir))
		for {
			pst, err := os.Stat(parent)
			if err == nil {
				if !pst.IsDir() {
					r.problem(Config, "state_dir %s cannot be created: %s is not a directory", dir, parent)
					return
				}
				break
			}
			if !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
				r.problem(fsCode(err), "state_dir %s cannot be created (%v)", dir, errCause(err))
				return
			}
			parent = filepath.Dir(parent)
		}
		if !writable(parent) {
			r.problem(Privilege, "state_dir %s cannot be created: %s is not writable", dir, parent)
			return
		}
		r.fact("state_dir will be created (under %s)", parent)
		return
	case err != nil:
		r.problem(fsCode(err), "cannot read state_dir %s (%v)", dir, errCause(err))
		return
	case !st.IsDir():
		r.problem(Config, "state_dir %s is a file, not a directory: point state_dir at a directory", dir)
		return
	}
	if !writable(dir) {
		r.problem(Privilege, "state_dir %s is not writable: fix its owner or mode", dir)
		return
	}
	r.fact("state_dir is a writable directory")
}

// writable tries to create and remove a file in dir: the only reliable test
// (ACLs, read-only mounts, root).
func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".walship-preflight-*")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return true
}
