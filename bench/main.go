// Command bench measures Flagpole end to end with the real flagpole binary,
// real redis-server and git processes and real HTTP on loopback, and prints
// one result block per scenario with the targets of BENCHMARKS.md.
//
// Usage (from the module root):
//
//	go run ./bench [flags] <scenario>... [flags]
//
// Scenarios: propagation, propagation-redis, git-webhook, override,
// override-split, fanout, evaluate, or all. See bench/README.md for what each one measures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Demo keys of flags.example (flags.example/DEMO-KEYS.md).
const (
	prodServerKey = "fp_srv_prod_00924f0ac53302c0eed957fb2f4f221a"
	prodClientKey = "fp_cli_prod_9696b5d062735734a36c80b60533b635"
)

// config holds every flag; each scenario reads the ones it needs.
type config struct {
	bin        string        // flagpole binary; empty: build one
	example    string        // the flags.example directory
	edits      int           // changes per propagation scenario
	gap        time.Duration // pause after a change is seen
	wait       time.Duration // how long one change may take before the run fails
	fanout     []int         // fan-out sizes
	rounds     int           // changes per fan-out size
	concurrent int           // evaluate: concurrent clients
	duration   time.Duration // evaluate: measured duration
	flags      int           // evaluate: flags in the generated repository
	loadgen    string        // evaluate: "raw" or "net/http"
	trips      int           // breaker: runs, one flag tripped each
}

// scenario runs one measurement and returns its result blocks.
type scenario func(ctx context.Context, cfg *config) ([]*report, error)

var scenarios = map[string]scenario{
	"propagation":       runPropagation,
	"propagation-redis": runPropagationRedis,
	"git-webhook":       runGitWebhook,
	"fanout":            runFanout,
	"evaluate":          runEvaluate,
	"override":          runOverride,
	"override-split":    runOverrideSplit,
	"breaker":           runBreaker,
	"scale":             runScale,
	"scale-out":         runScaleOut,
}

// order is the order in which "all" runs the scenarios.
var order = []string{"propagation", "propagation-redis", "git-webhook", "override", "override-split", "breaker", "fanout", "evaluate", "scale", "scale-out"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the scenarios named and returns the exit code:
// 0 when every scenario ran (whatever its targets), 1 when one failed to
// run, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, names, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if cfg.bin == "" {
		bin, cleanup, err := buildFlagpole()
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer cleanup()
		cfg.bin = bin
	}
	fmt.Fprintf(stdout, "machine: %s\nload average: %s (1, 5, 15 min; other work on the machine skews the figures)\nflagpole: %s\n\n",
		machine(runtime.Version(), runtime.NumCPU()), loadAverage(), cfg.bin)
	failed := 0
	for _, name := range names {
		start := time.Now()
		reports, err := scenarios[name](ctx, cfg)
		for _, r := range reports {
			r.print(stdout)
		}
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "=== %s\n  FAILED: %v\n\n", name, err)
		}
		fmt.Fprintf(stdout, "--- %s took %.1f s; load average now %s\n\n", name, time.Since(start).Seconds(), loadAverage())
		if errors.Is(err, errInterrupted) {
			break
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// parseArgs reads flags placed before and after the scenario names.
func parseArgs(args []string, stderr io.Writer) (*config, []string, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags] <%s|all>... [flags]\n", strings.Join(order, "|"))
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.bin, "bin", "", "flagpole binary to run (default: go build ./cmd/flagpole into a temporary directory)")
	fs.StringVar(&cfg.example, "example", "flags.example", "the example flags repository (its demo keys are used)")
	fs.IntVar(&cfg.edits, "edits", 200, "propagation, propagation-redis, git-webhook, override, override-split: changes to measure")
	fs.DurationVar(&cfg.gap, "gap", 50*time.Millisecond, "pause after each change is seen, so the debounce settles")
	fs.DurationVar(&cfg.wait, "wait", 15*time.Second, "how long one change may take to arrive before the scenario fails")
	sizes := fs.String("n", "1000,10000", "fanout: SSE clients, a comma-separated list of sizes")
	fs.IntVar(&cfg.rounds, "rounds", 3, "fanout: changes measured per size")
	fs.IntVar(&cfg.trips, "trips", 30, "breaker: runs, each tripping a flag of its own")
	fs.IntVar(&cfg.concurrent, "c", 32, "evaluate: concurrent keep-alive clients")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "evaluate: measured duration (after 1 s of warm-up)")
	fs.IntVar(&cfg.flags, "flags", 100, "evaluate: flags in the generated repository; scale: the same, 10,000 when under 1,000")
	fs.StringVar(&keepLogs, "logs", "", fmt.Sprintf("a directory that receives each process's last %d log lines when it stops (NAME.log)", maxLogLines))
	fs.StringVar(&cfg.loadgen, "loadgen", "raw", "evaluate: load generator, raw (one hand-written HTTP/1.1 connection per client) or net/http")

	var names []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		names = append(names, args[0])
		args = args[1:]
	}
	names, err := expand(names)
	if err != nil {
		return nil, nil, err
	}
	if cfg.fanout, err = parseSizes(*sizes); err != nil {
		return nil, nil, err
	}
	if cfg.edits < 1 || cfg.rounds < 1 || cfg.concurrent < 1 || cfg.flags < 1 || cfg.trips < 1 || cfg.duration <= 0 {
		return nil, nil, errors.New("-edits, -rounds, -c, -flags, -trips and -d must be positive")
	}
	if cfg.loadgen != "raw" && cfg.loadgen != "net/http" {
		return nil, nil, fmt.Errorf("-loadgen %q: want raw or net/http", cfg.loadgen)
	}
	return cfg, names, nil
}

// expand checks the scenario names and replaces "all" by every scenario.
func expand(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("name a scenario: %s or all", strings.Join(order, ", "))
	}
	var out []string
	for _, n := range names {
		switch {
		case n == "all":
			out = append(out, order...)
		case scenarios[n] != nil:
			out = append(out, n)
		default:
			return nil, fmt.Errorf("unknown scenario %q (want %s or all)", n, strings.Join(order, ", "))
		}
	}
	return slices.Compact(out), nil
}

// parseSizes parses "1000,10000".
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-n %q: want positive integers separated by commas", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// buildFlagpole builds ./cmd/flagpole into a temporary directory.
func buildFlagpole() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "flagpole-bench-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("making a directory for the binary: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, "flagpole")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/flagpole/flagpole/cmd/flagpole")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building flagpole (run from the module, or pass -bin): %w\n%s", err, out)
	}
	return bin, cleanup, nil
}

// tempDir makes a temporary directory for one scenario.
// exampleCopy copies the example repository into a new temporary directory
// for scenario and returns it with a toggler that edits it; cleanup removes it.
func exampleCopy(cfg *config, scenario string) (repo string, tog *toggler, cleanup func(), err error) {
	dir, cleanup, err := tempDir(scenario)
	if err != nil {
		return "", nil, nil, err
	}
	repo = filepath.Join(dir, "repo")
	if err := copyDir(cfg.example, repo); err != nil {
		cleanup()
		return "", nil, nil, fmt.Errorf("copying %s: %w", cfg.example, err)
	}
	if tog, err = newToggler(repo); err != nil {
		cleanup()
		return "", nil, nil, err
	}
	return repo, tog, cleanup, nil
}

func tempDir(scenario string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "flagpole-bench-"+scenario+"-")
	if err != nil {
		return "", nil, fmt.Errorf("making a temporary directory: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
