package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagpole/flagpole/store"
)

// statusDoc is what the CLI reads of GET /v1/status. Every part is
// optional: older servers and roles without a syncer leave some out.
type statusDoc struct {
	Sync *struct {
		Source    string `json:"source"`
		Branch    string `json:"branch"`
		Commit    string `json:"commit"`
		Published string `json:"published"`
		LastSync  string `json:"last_sync"`
		LastError *struct {
			Commit       string   `json:"commit"`
			At           string   `json:"at"`
			Message      string   `json:"message"`
			Problems     []string `json:"problems"`
			Locations    []string `json:"locations"`
			ProblemCount int      `json:"problem_count"`
		} `json:"last_error"`
	} `json:"sync"`
	SyncError    string `json:"sync_error"`
	Environments map[string]struct {
		Version    string `json:"version"`
		LoadedAt   string `json:"loaded_at"`
		Flags      int    `json:"flags"`
		SSEClients int    `json:"sse_clients"`
		LoadError  string `json:"load_error"`
		NextClock  string `json:"next_clock_change"`
	} `json:"environments"`
	Ready     *bool           `json:"ready"`
	Overrides json.RawMessage `json:"overrides"`
	Writeback *struct {
		Pending []struct {
			Environment string `json:"environment"`
			Flag        string `json:"flag"`
			Action      string `json:"action"`
			Since       string `json:"since"`
			Attempts    int    `json:"attempts"`
			LastError   string `json:"last_error"`
		} `json:"pending"`
	} `json:"writeback"`
	// Bearers is shown to a viewer or admin key only.
	Bearers      *[]statusBearer `json:"bearers"`
	BearersError string          `json:"bearers_error"`
	Breakers     *struct {
		Leading bool `json:"leading"`
		Flags   []struct {
			Environment string `json:"environment"`
			Flag        string `json:"flag"`
			State       string `json:"state"`
			Counts      struct {
				Success int64 `json:"success"`
				Failure int64 `json:"failure"`
				Slow    int64 `json:"slow"`
			} `json:"counts"`
			ErrorRate     float64 `json:"error_rate"`
			SlowRate      float64 `json:"slow_rate"`
			Threshold     float64 `json:"threshold"`
			SlowThreshold float64 `json:"slow_threshold"`
			Window        string  `json:"window"`
			Cap           float64 `json:"recovery_cap"`
			NextStep      string  `json:"next_step"`
		} `json:"flags"`
	} `json:"breakers"`
}

// statusBearer is one bearer connected to the store, as status lists it.
type statusBearer struct {
	ID           string `json:"id"`
	Address      string `json:"address"`
	Version      string `json:"version"`
	Started      string `json:"started"`
	LastSeen     string `json:"last_seen"`
	Stale        bool   `json:"stale"`
	Environments map[string]struct {
		Version string `json:"version"`
		Streams struct {
			SDK       int64 `json:"sdk"`
			Evaluated int64 `json:"evaluated"`
			OFREP     int64 `json:"ofrep"`
		} `json:"streams"`
	} `json:"environments"`
	EnvsOmitted int `json:"environments_omitted"`
}

// maxProblems is how many locations of the last sync error the text output
// lists.
const maxProblems = 5

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "--server URL [--format text|json]", stderr)
	server := fs.String("server", "", "URL of a flagpole server (serve, sync or bearer)")
	tokenFile := fs.String("token-file", "", "file holding an admin or viewer token (default: $"+adminTokenEnv+"); status needs none, a token may show more")
	format := formatFlag(fs)
	pos, err := parse(fs, args)
	if err == nil {
		err = checkFormat(pos, *format)
	}
	if err == nil && *server == "" {
		err = fmt.Errorf("--server URL (or %s) is required", envName("server"))
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return fail(stderr, "status", err)
	}
	c, err := newAPIClient(*server, token)
	if err != nil {
		return usageError(fs, stderr, err)
	}
	b, err := c.do(ctx, http.MethodGet, "/v1/status", nil)
	if err != nil {
		return fail(stderr, "status", fmt.Errorf("GET /v1/status: %s", c.explain(err)))
	}
	if *format == "json" {
		fmt.Fprintln(stdout, strings.TrimSpace(string(b)))
		return exitOK
	}
	var st statusDoc
	if err := json.Unmarshal(b, &st); err != nil {
		return fail(stderr, "status", fmt.Errorf("%s answered GET /v1/status with something that is not its status JSON: %v", c, err))
	}
	printStatus(stdout, c.String(), &st, time.Now())
	return exitOK
}

// printStatus writes st as short aligned sections.
func printStatus(w io.Writer, server string, st *statusDoc, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("server:", server)
	if st.Ready != nil {
		row("ready:", map[bool]string{true: "yes", false: "no (no rule set loaded yet)"}[*st.Ready])
	}
	switch s := st.Sync; {
	case s != nil:
		src := s.Source
		if s.Branch != "" {
			src += " branch " + s.Branch
		}
		row("source:", orDash(src))
		commit := orDash(abbrev(s.Commit))
		if s.Published != "" && s.Published != s.Commit {
			commit += ", published " + abbrev(s.Published)
		}
		row("commit:", commit)
		row("last sync:", ago(s.LastSync, now))
		if e := s.LastError; e != nil {
			count := e.ProblemCount
			locs := e.Problems
			if len(locs) == 0 {
				locs = e.Locations
			}
			if count == 0 {
				count = len(locs)
			}
			head := "commit " + orDash(abbrev(e.Commit)) + ", " + ago(e.At, now)
			if count > 0 {
				head += fmt.Sprintf(", %d problem%s", count, pluralS(count))
			}
			row("last error:", head)
			if e.Message != "" {
				row("", oneLineText(e.Message))
			}
			for i, l := range locs {
				if i == maxProblems {
					row("", fmt.Sprintf("… and %d more (flagpole validate lists them all)", count-maxProblems))
					break
				}
				row("", l)
			}
		} else {
			row("last error:", "none")
		}
	case st.SyncError != "":
		row("sync:", "unknown: "+st.SyncError)
	}
	tw.Flush()

	envs := make([]string, 0, len(st.Environments))
	for e := range st.Environments {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	if len(envs) > 0 {
		fmt.Fprintln(w, "\nenvironments:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, name := range envs {
			e := st.Environments[name]
			line := fmt.Sprintf("  %s\t%s\t%d flag%s\t%d SSE client%s\tloaded %s",
				name, orDash(e.Version), e.Flags, pluralS(e.Flags), e.SSEClients, pluralS(e.SSEClients), ago(e.LoadedAt, now))
			if e.NextClock != "" {
				line += "\tnext clock change " + e.NextClock
			}
			if e.LoadError != "" {
				line += "\tload error: " + oneLineText(e.LoadError)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}

	if list, ok := statusOverrides(st.Overrides); ok {
		fmt.Fprintln(w, "\noverrides:")
		if len(list) == 0 {
			fmt.Fprintln(w, "  none")
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, o := range list {
			exp := "no expiry"
			if o.Expires != "" {
				exp = "expires " + o.Expires + " (" + until(o.Expires, now) + ")"
			}
			fmt.Fprintf(tw, "  %s/%s\tserves %s%s\t%s\tby %s\t%s\n", o.Environment, o.Flag, o.Serve, recoveryMark(o.Recovery),
				exp, orDash(o.By), orDash(oneLineText(o.Reason)))
		}
		tw.Flush()
	}

	printBearers(w, st, now)
	printBreakers(w, st)

	if wb := st.Writeback; wb != nil {
		fmt.Fprintln(w, "\npending write-backs:")
		if len(wb.Pending) == 0 {
			fmt.Fprintln(w, "  none")
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range wb.Pending {
			line := fmt.Sprintf("  %s/%s\t%s\tsince %s\t%d attempt%s", p.Environment, p.Flag, p.Action, ago(p.Since, now), p.Attempts, pluralS(p.Attempts))
			if p.LastError != "" {
				line += "\tlast error: " + oneLineText(p.LastError)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
}

// printBearers writes the bearers section of a status document: one line
// per bearer, then one per environment it serves with its streams.
func printBearers(w io.Writer, st *statusDoc, now time.Time) {
	switch {
	case st.BearersError != "":
		fmt.Fprintln(w, "\nbearers: unknown: "+oneLineText(st.BearersError))
		return
	case st.Bearers == nil:
		return
	}
	fmt.Fprintln(w, "\nbearers:")
	if len(*st.Bearers) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, b := range *st.Bearers {
		seen := "last seen " + ago(b.LastSeen, now)
		if b.Stale {
			seen += fmt.Sprintf(" STALE (no heartbeat for over %s)", 2*store.HeartbeatInterval)
		}
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", b.ID, orDash(b.Address), orDash(b.Version), seen)
		envs := make([]string, 0, len(b.Environments))
		for e := range b.Environments {
			envs = append(envs, e)
		}
		sort.Strings(envs)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, name := range envs {
			e := b.Environments[name]
			fmt.Fprintf(tw, "    %s\t%s\tstreams: %d SDK, %d evaluated, %d OFREP\n", name, orDash(abbrev(e.Version)),
				e.Streams.SDK, e.Streams.Evaluated, e.Streams.OFREP)
		}
		tw.Flush()
		if b.EnvsOmitted > 0 {
			fmt.Fprintf(w, "    … and %d more environment%s\n", b.EnvsOmitted, pluralS(b.EnvsOmitted))
		}
	}
}

// printBreakers writes the breakers section of a status document.
func printBreakers(w io.Writer, st *statusDoc) {
	br := st.Breakers
	if br == nil {
		return
	}
	if !br.Leading {
		fmt.Fprintln(w, "\nbreakers: standing by (another process leads)")
		return
	}
	fmt.Fprintln(w, "\nbreakers:")
	if len(br.Flags) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range br.Flags {
		calls := f.Counts.Success + f.Counts.Failure
		line := fmt.Sprintf("  %s/%s\t%s\terrors %.1f%% of %d calls in %s (trips at %g%%)", f.Environment, f.Flag, f.State,
			f.ErrorRate, calls, f.Window, f.Threshold)
		if f.SlowThreshold > 0 {
			line += fmt.Sprintf("\tslow %.1f%% (trips at %g%%)", f.SlowRate, f.SlowThreshold)
		}
		if f.State == "recovering" {
			line += fmt.Sprintf("\tcap %g%%", f.Cap)
		}
		if f.NextStep != "" {
			line += "\tnext step " + f.NextStep
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// statusOverrides reads the overrides of a status document: a list of
// entries, or entries grouped by environment (a list or a map by flag per
// environment). ok is false when the server sent none.
func statusOverrides(raw json.RawMessage) (list []overrideEntry, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	if json.Unmarshal(raw, &list) == nil {
		return sortEntries(list), true
	}
	var byEnv map[string]json.RawMessage
	if json.Unmarshal(raw, &byEnv) != nil {
		return nil, false
	}
	for env, v := range byEnv {
		var l []overrideEntry
		if json.Unmarshal(v, &l) != nil {
			var m map[string]overrideEntry
			if json.Unmarshal(v, &m) != nil {
				continue
			}
			for flag, o := range m {
				if o.Flag == "" {
					o.Flag = flag
				}
				l = append(l, o)
			}
		}
		for _, o := range l {
			if o.Environment == "" {
				o.Environment = env
			}
			list = append(list, o)
		}
	}
	return sortEntries(list), true
}

func sortEntries(list []overrideEntry) []overrideEntry {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Environment != list[j].Environment {
			return list[i].Environment < list[j].Environment
		}
		return list[i].Flag < list[j].Flag
	})
	return list
}

// abbrev shortens a commit or content hash to the 12 characters that
// versions show.
func abbrev(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ago shows an RFC 3339 time with how long ago it was.
func ago(ts string, now time.Time) string {
	if ts == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ts
	}
	d := now.Sub(t)
	if d < 0 {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UTC().Format(time.RFC3339) + " (" + roughly(d) + " ago)"
}

// until says how long until an RFC 3339 time.
func until(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return "?"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + roughly(d)
	}
	return "expired"
}

// roughly rounds d for people: 45s, 12m, 3h10m, 2d.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		if m := int(d%time.Hour) / int(time.Minute); m > 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
