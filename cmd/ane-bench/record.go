package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Record is the one JSON document a subcommand writes with --json. It says
// where and how the figures were measured, so records from different runs
// and machines can be compared. Subcommands put their figures in Results.
type Record struct {
	Tool      string    `json:"tool"`     // "ane-bench"
	Command   string    `json:"command"`  // the subcommand
	Args      []string  `json:"args"`     // the full command line
	Time      time.Time `json:"time"`     // when the run started
	Machine   Machine   `json:"machine"`  //
	GoVersion string    `json:"go"`       // runtime.Version()
	Commit    string    `json:"commit"`   // vcs.revision, or git rev-parse HEAD
	Modified  bool      `json:"modified"` // the build had uncommitted changes
	Kernel    string    `json:"kernel"`   // the code path used: avx512, avx2, f16c, go, ...
	Results   any       `json:"results"`  // subcommand-specific medians
}

// Machine describes the host.
type Machine struct {
	Hostname   string `json:"hostname,omitempty"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"` // runtime.NumCPU()
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
}

// newRecord fills in everything but Results.
func newRecord(command, kernel string) *Record {
	host, _ := os.Hostname()
	r := &Record{
		Tool:      "ane-bench",
		Command:   command,
		Args:      os.Args,
		Time:      time.Now().UTC(),
		GoVersion: runtime.Version(),
		Kernel:    kernel,
		Machine: Machine{
			Hostname:   host,
			CPU:        cpuModel(),
			Cores:      runtime.NumCPU(),
			GOMAXPROCS: runtime.GOMAXPROCS(0),
			GOOS:       runtime.GOOS,
			GOARCH:     runtime.GOARCH,
		},
	}
	r.Commit, r.Modified = commit()
	return r
}

// Write writes r as one line of JSON.
func (r *Record) Write(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// cpuModel reads the CPU's name from /proc/cpuinfo (Linux) or sysctl
// (macOS), falling back to GOARCH.
func cpuModel() string {
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, ok := strings.Cut(s.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	if runtime.GOOS == "darwin" {
		if out, err := exec.Command("sysctl", "-n", "machdep.cpu.brand_string").Output(); err == nil {
			return strings.TrimSpace(string(out))
		}
	}
	return runtime.GOARCH
}

// commit returns the VCS revision stamped into the binary, or failing that
// the HEAD of the git checkout in the working directory.
func commit() (rev string, modified bool) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
		}
	}
	return rev, modified
}

// median returns the median of xs (0 for none); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// cpuClock makes secondsPerOp count process CPU time instead of wall time
// (ANE_BENCH_CLOCK=cpu): a steadier measure of one thread's work on a busy
// machine, meaningless for several threads.
var cpuClock = os.Getenv("ANE_BENCH_CLOCK") == "cpu"

// secondsPerOp runs f repeatedly, doubling the count until one batch lasts
// at least min, and returns the time per call of that batch.
func secondsPerOp(f func(), min time.Duration) float64 {
	for iters := 1; ; iters *= 2 {
		t0 := clock()
		for range iters {
			f()
		}
		if dt := clock() - t0; dt >= min {
			return dt.Seconds() / float64(iters)
		}
	}
}

var start = time.Now()

func clock() time.Duration {
	if cpuClock {
		if d, ok := processCPUTime(); ok {
			return d
		}
	}
	return time.Since(start)
}
