package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report is the result block of one scenario: labelled lines, then the
// targets with PASS or MISS.
type report struct {
	scenario string
	lines    [][2]string
	targets  []string
	missed   int
}

func newReport(scenario string) *report { return &report{scenario: scenario} }

// add appends a labelled line.
func (r *report) add(label, format string, args ...any) {
	r.lines = append(r.lines, [2]string{label, fmt.Sprintf(format, args...)})
}

// latency appends the count and the p50/p90/p99/max line of samples.
func (r *report) latency(label string, samples []time.Duration) quantiles {
	q := summarize(samples)
	r.add(label, "n %d  p50 %s  p90 %s  p99 %s  max %s  (min %s, mean %s)",
		q.n, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max), ms(q.min), ms(q.mean))
	return q
}

// memory appends a process's current and peak RSS.
func (r *report) memory(p *proc) {
	rss, err1 := p.RSS()
	peak, err2 := p.PeakRSS()
	if err1 != nil || err2 != nil {
		r.add("memory "+p.name, "unavailable: %v", firstErr(err1, err2))
		return
	}
	r.add("memory "+p.name, "RSS %s (peak %s)", mib(rss), mib(peak))
}

// target records whether a target was met, with the figure compared.
func (r *report) target(what, source string, ok bool, got string) {
	verdict := "PASS"
	if !ok {
		verdict = "MISS"
		r.missed++
	}
	r.targets = append(r.targets, fmt.Sprintf("%s  %s (%s): got %s", verdict, what, source, got))
}

// print writes the block to w.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "=== %s\n", r.scenario)
	width := 0
	for _, l := range r.lines {
		width = max(width, len(l[0]))
	}
	for _, l := range r.lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
	for _, t := range r.targets {
		fmt.Fprintf(w, "  target: %s\n", t)
	}
	fmt.Fprintln(w)
}

// quantiles summarizes a set of latencies.
type quantiles struct {
	n                             int
	min, p50, p90, p99, max, mean time.Duration
}

// summarize sorts a copy of samples and picks nearest-rank quantiles.
func summarize(samples []time.Duration) quantiles {
	if len(samples) == 0 {
		return quantiles{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return quantiles{
		n: len(s), min: s[0], max: s[len(s)-1], mean: sum / time.Duration(len(s)),
		p50: rank(s, 0.50), p90: rank(s, 0.90), p99: rank(s, 0.99),
	}
}

// rank returns the nearest-rank q-quantile of sorted s: the smallest value
// with at least q of the samples at or below it.
func rank(s []time.Duration, q float64) time.Duration {
	i := int(float64(len(s))*q+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
}

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// kib formats a byte count in KiB.
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// machine describes the host: CPUs, CPU model, Go version and kernel.
func machine(goVersion string, cpus int) string {
	model := "unknown"
	if b, err := readFileString("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(b) {
			if name, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				model = strings.TrimSpace(val)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs, %s, %s", cpus, model, goVersion)
}

// loadAverage returns the 1-, 5- and 15-minute load averages, which say how
// much else was running on the machine during a measurement.
func loadAverage() string {
	b, err := readFileString("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(b)
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
