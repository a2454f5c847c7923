package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flagpole/flagpole/loader/writeback"
)

const overrideUsage = `Usage: flagpole override set|clear|list [arguments]

  set <flag> --env E (--off | --serve V) --reason "…" [--for 2h | --until RFC3339] [--by NAME]
  clear <flag> --env E [--reason "…"] [--by NAME]
  list [--env E] [--format text|json]

Each goes through a running server (--server URL, or FLAGPOLE_SERVER, with the
admin token of FLAGPOLE_ADMIN_TOKEN or --token-file) or straight into a clone
of the flags repository (--repo DIR: commit and push to its upstream).
Run 'flagpole override <subcommand> -h' for its flags.
`

// runOverride dispatches `flagpole override set|clear|list`.
func runOverride(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, overrideUsage)
		return exitUsage
	}
	switch args[0] {
	case "set":
		return runOverrideSet(ctx, args[1:], stdout, stderr)
	case "clear":
		return runOverrideClear(ctx, args[1:], stdout, stderr)
	case "list":
		return runOverrideList(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, overrideUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "flagpole override: unknown subcommand %q (set, clear or list)\n\n%s", args[0], overrideUsage)
	return exitUsage
}

// where is the --server or --repo an override command goes through; the
// --server and --repo flags (and --token-file) register with addWhere.
type where struct {
	server, repo, tokenFile string
	fs                      *flag.FlagSet
}

func addWhere(fs *flag.FlagSet) *where {
	w := &where{fs: fs}
	fs.StringVar(&w.server, "server", "", "URL of a flagpole server (serve or sync) to go through its admin API")
	fs.StringVar(&w.repo, "repo", "", "a local clone of the flags repository to commit in and push from, instead of a server")
	fs.StringVar(&w.tokenFile, "token-file", "", "file holding the admin token (default: $"+adminTokenEnv+")")
	return w
}

// resolve picks --server or --repo after parse. One given on the command
// line wins over the other one's environment variable (FLAGPOLE_REPO may be
// set for serve on the same machine).
func (w *where) resolve() error {
	cli := map[string]bool{}
	w.fs.Visit(func(f *flag.Flag) { cli[f.Name] = true })
	switch {
	case cli["server"] && cli["repo"]:
		return errors.New("give --server or --repo, not both")
	case cli["server"]:
		w.repo = ""
	case cli["repo"]:
		w.server = ""
	case w.server != "" && w.repo != "":
		return fmt.Errorf("both %s and %s are set: pass --server or --repo to choose", envName("server"), envName("repo"))
	case w.server == "" && w.repo == "":
		return errors.New("--server URL (or FLAGPOLE_SERVER) or --repo DIR is required")
	}
	return nil
}

// client returns the API client of --server with its admin token.
func (w *where) client() (*apiClient, error) {
	token, err := readToken(w.tokenFile)
	if err != nil {
		return nil, err
	}
	return newAPIClient(w.server, token)
}

// overrideEntry is an override as the admin API lists it. Times stay
// strings, so that an answer in another format still prints.
type overrideEntry struct {
	Environment string          `json:"environment"`
	Flag        string          `json:"flag"`
	Serve       string          `json:"serve"`
	Reason      string          `json:"reason,omitempty"`
	By          string          `json:"by,omitempty"`
	At          string          `json:"at,omitempty"`
	Expires     string          `json:"expires,omitempty"`
	Recovery    json.RawMessage `json:"recovery,omitempty"`
	Source      string          `json:"source,omitempty"`    // git | layer
	Writeback   string          `json:"writeback,omitempty"` // landed | pending | none
}

// setRequest is the body of PUT /v1/admin/overrides/{env}/{flag}.
type setRequest struct {
	Serve   string `json:"serve,omitempty"`
	Off     bool   `json:"off,omitempty"`
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`
	Expires string `json:"expires,omitempty"`
	For     string `json:"for,omitempty"`
}

// clearRequest is the body of DELETE /v1/admin/overrides/{env}/{flag}.
type clearRequest struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// overrideSpec is what `override set` asks for, checked.
type overrideSpec struct {
	flag, env  string
	serve      string // "" with off
	off        bool
	reason, by string
	forDur     time.Duration // 0: none
	until      *time.Time
	noPush     bool
	now        time.Time
}

func runOverrideSet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("override set", `<flag> --env E (--off | --serve V) --reason "…" [--for 2h | --until RFC3339] [--by NAME] (--server URL | --repo DIR [--no-push])`, stderr)
	cf := addChangeFlags(fs, "sets")
	off := fs.Bool("off", false, "serve the flag's off variant to everyone (kill it)")
	serve := fs.String("serve", "", "variant to serve to everyone")
	forDur := fs.Duration("for", 0, "expire after this long, e.g. 2h")
	until := fs.String("until", "", "expire at this time (RFC 3339, e.g. 2026-11-21T12:00:00Z)")
	spec, err := cf.parse(fs, args)
	spec.serve, spec.off, spec.forDur = *serve, *off, *forDur
	switch {
	case err != nil:
	case spec.off == (spec.serve != ""):
		err = errors.New("give either --off or --serve VARIANT")
	case spec.reason == "":
		err = errors.New(`--reason is required: say why, e.g. --reason "5xx spike after deploy"`)
	case spec.forDur < 0:
		err = fmt.Errorf("--for must be positive, not %s", spec.forDur)
	case spec.forDur > 0 && *until != "":
		err = errors.New("give --for or --until, not both")
	case *until != "":
		t, perr := time.Parse(time.RFC3339, *until)
		switch {
		case perr != nil:
			err = fmt.Errorf("--until must be an RFC 3339 time such as 2026-11-21T12:00:00Z, not %q", *until)
		case !t.After(spec.now):
			err = fmt.Errorf("--until %s is not in the future", *until)
		default:
			t = t.UTC()
			spec.until = &t
		}
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	w := cf.where
	if w.repo != "" {
		return setInRepo(ctx, w.repo, spec, stdout, stderr)
	}
	return setOnServer(ctx, w, spec, stdout, stderr)
}

// changeFlags are the flags that set and clear share.
type changeFlags struct {
	where           *where
	env, reason, by *string
	noPush          *bool
}

// addChangeFlags registers them; verb ("sets", "clears") is for the help.
func addChangeFlags(fs *flag.FlagSet, verb string) *changeFlags {
	return &changeFlags{
		where:  addWhere(fs),
		env:    fs.String("env", "", "environment (required)"),
		reason: fs.String("reason", "", "why, for the commit and the audit trail"),
		by:     fs.String("by", "", "who "+verb+" it (default: the git identity with --repo, $USER with --server)"),
		noPush: fs.Bool("no-push", false, "with --repo: commit on the checked-out branch and do not push"),
	}
}

// parse parses args and checks what set and clear share.
func (c *changeFlags) parse(fs *flag.FlagSet, args []string) (overrideSpec, error) {
	pos, err := parse(fs, args)
	spec := overrideSpec{env: *c.env, reason: strings.TrimSpace(*c.reason), by: *c.by, noPush: *c.noPush,
		now: time.Now().UTC().Truncate(time.Second)}
	if err == nil {
		err = c.where.resolve()
	}
	if err == nil {
		spec.flag, err = oneFlag(pos)
	}
	switch {
	case err != nil:
	case spec.env == "":
		err = errors.New("--env is required")
	case spec.noPush && c.where.repo == "":
		err = errors.New("--no-push only applies to --repo")
	}
	return spec, err
}

// oneFlag returns the one positional argument, the flag key.
func oneFlag(pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return "", errors.New("the flag to override is required, e.g. flagpole override set checkout-v2 --env production --off --reason …")
	case 1:
		return pos[0], nil
	}
	return "", fmt.Errorf("expected one flag, got %d arguments: %s", len(pos), strings.Join(pos, " "))
}

func setOnServer(ctx context.Context, w *where, spec overrideSpec, stdout, stderr io.Writer) int {
	c, err := w.client()
	if err != nil {
		return fail(stderr, "override set", err)
	}
	req := setRequest{Serve: spec.serve, Off: spec.off, Reason: spec.reason, By: spec.by}
	if req.By == "" {
		req.By = os.Getenv("USER")
	}
	if spec.forDur > 0 {
		req.For = spec.forDur.String()
	}
	if spec.until != nil {
		req.Expires = spec.until.Format(time.RFC3339)
	}
	b, err := c.do(ctx, http.MethodPut, overridePath(spec.env, spec.flag), req)
	if err != nil {
		return fail(stderr, "override set", fmt.Errorf("%s in %s: %s", spec.flag, spec.env, c.explain(err)))
	}
	var ans struct {
		Override overrideEntry `json:"override"`
		Version  string        `json:"version"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return fail(stderr, "override set", fmt.Errorf("%s set the override of %s in %s but its answer is not JSON: %v", c, spec.flag, spec.env, err))
	}
	o := ans.Override
	variant := fmt.Sprintf("%q", o.Serve)
	if o.Serve == "" {
		variant = "its off variant"
		if !spec.off {
			variant = fmt.Sprintf("%q", spec.serve)
		}
	}
	fmt.Fprintf(stdout, "%s in %s now serves %s%s%s; write-back: %s\n",
		spec.flag, spec.env, variant, expiresText(o.Expires), versionText(ans.Version),
		writebackText(o.Writeback, writeback.Path(spec.env, spec.flag)))
	return exitOK
}

func runOverrideClear(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("override clear", `<flag> --env E [--reason "…"] [--by NAME] (--server URL | --repo DIR [--no-push])`, stderr)
	cf := addChangeFlags(fs, "clears")
	spec, err := cf.parse(fs, args)
	if err != nil {
		return usageError(fs, stderr, err)
	}
	w := cf.where
	if w.repo != "" {
		return clearInRepo(ctx, w.repo, spec, stdout, stderr)
	}
	c, err := w.client()
	if err != nil {
		return fail(stderr, "override clear", err)
	}
	req := clearRequest{Reason: spec.reason, By: spec.by}
	if req.By == "" {
		req.By = os.Getenv("USER")
	}
	b, err := c.do(ctx, http.MethodDelete, overridePath(spec.env, spec.flag), req)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return fail(stderr, "override clear", fmt.Errorf("no override of %s is in force in %s on %s (%s); see flagpole override list --env %s",
			spec.flag, spec.env, c, ae.Message, spec.env))
	}
	if err != nil {
		return fail(stderr, "override clear", fmt.Errorf("%s in %s: %s", spec.flag, spec.env, c.explain(err)))
	}
	var ans struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &ans) // the version is only shown
	fmt.Fprintf(stdout, "%s in %s is evaluated by its rules again%s; write-back: the leader removes %s\n",
		spec.flag, spec.env, versionText(ans.Version), writeback.Path(spec.env, spec.flag))
	return exitOK
}

func runOverrideList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("override list", "[--env E] [--format text|json] (--server URL | --repo DIR)", stderr)
	w := addWhere(fs)
	env := fs.String("env", "", "only this environment (default: all)")
	format := formatFlag(fs)
	pos, err := parse(fs, args)
	if err == nil {
		err = checkFormat(pos, *format)
	}
	if err == nil {
		err = w.resolve()
	}
	if err != nil {
		return usageError(fs, stderr, err)
	}
	var raw []byte
	if w.repo != "" {
		raw, err = listInRepo(w.repo, *env)
	} else {
		raw, err = listOnServer(ctx, w, *env)
	}
	if err != nil {
		return fail(stderr, "override list", err)
	}
	if *format == "json" {
		fmt.Fprintln(stdout, strings.TrimSpace(string(raw)))
		return exitOK
	}
	var ans struct {
		Overrides []overrideEntry `json:"overrides"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fail(stderr, "override list", fmt.Errorf("the answer is not a list of overrides: %v", err))
	}
	printOverrides(stdout, ans.Overrides, *env)
	return exitOK
}

// formatFlag registers --format for commands that print text or pass the
// server's JSON through.
func formatFlag(fs *flag.FlagSet) *string {
	return fs.String("format", "text", "output format: text or json (json: the server's answer as it is)")
}

// checkFormat rejects positional arguments and formats other than text and
// json.
func checkFormat(pos []string, format string) error {
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(pos, " "))
	}
	return oneOf("--format", format, "text", "json")
}

func listOnServer(ctx context.Context, w *where, env string) ([]byte, error) {
	c, err := w.client()
	if err != nil {
		return nil, err
	}
	path := "/v1/admin/overrides"
	if env != "" {
		path += "?env=" + url.QueryEscape(env)
	}
	b, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, errors.New(c.explain(err))
	}
	return b, nil
}

// printOverrides prints one aligned line per override, by environment and
// flag.
func printOverrides(w io.Writer, list []overrideEntry, env string) {
	if len(list) == 0 {
		if env != "" {
			fmt.Fprintf(w, "no overrides in %s\n", env)
		} else {
			fmt.Fprintln(w, "no overrides")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tFLAG\tSERVES\tEXPIRES\tBY\tSOURCE\tWRITE-BACK\tREASON")
	for _, o := range sortEntries(list) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Environment, o.Flag, o.Serve+recoveryMark(o.Recovery),
			orDash(o.Expires), orDash(o.By), orDash(o.Source), orDash(o.Writeback), orDash(oneLineText(o.Reason)))
	}
	tw.Flush()
}

// recoveryMark notes an override that ramps back by itself.
func recoveryMark(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	return " (recovering)"
}

func overridePath(env, flag string) string {
	return "/v1/admin/overrides/" + url.PathEscape(env) + "/" + url.PathEscape(flag)
}

func versionText(v string) string {
	if v == "" {
		return ""
	}
	return " (version " + v + ")"
}

func expiresText(exp string) string {
	if exp == "" {
		return ""
	}
	return " until " + exp
}

// writebackText says where an override set or cleared through a server is
// recorded in git.
func writebackText(state, file string) string {
	switch state {
	case "landed":
		return "landed, " + file + " is in git"
	case "none":
		return "none, the server has no git repository to record " + file + " in"
	case "", "pending":
		return "pending, the leader commits " + file
	}
	return state + ", " + file
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLineText folds the lines of s into one.
func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }
