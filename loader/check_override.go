package loader

import (
	"path"
	"time"

	"github.com/flagpole/flagpole/ruleset"
)

// checkOverride checks that overrides/<env>/<flag>.yaml names its
// directory, its file and a known flag, and adds it to that environment's
// Document. ruleset.CheckOverride (run by Compile) checks the rest: the
// variant it serves, expires after at, the recovery ramp.
func (c *checker) checkOverride(f *yfile) {
	var raw overrideYAML
	if !c.decode(f, &raw) {
		return
	}
	_, ok := c.overrideTarget(f, &raw)
	at, _ := time.Parse(time.RFC3339, raw.At)
	o := &ruleset.Override{Flag: raw.Flag, Environment: raw.Environment, Serve: raw.Serve,
		Reason: raw.Reason, By: raw.By, At: at}
	if raw.Expires != "" {
		exp, _ := time.Parse(time.RFC3339, raw.Expires)
		o.Expires = &exp
		if exp.After(at) && !c.now.Before(exp) {
			c.warnf(f, p("expires"), "override expired at %s and no longer applies: remove the file", raw.Expires)
		}
	}
	if r := raw.Recovery; r != nil {
		startAt, _ := time.Parse(time.RFC3339, r.StartAt)
		every, _ := time.ParseDuration(r.Every)
		o.Recovery = &ruleset.Recovery{StartAt: startAt, Start: r.Start, Step: r.Step, Every: ruleset.Duration(every)}
	}
	if !ok {
		return
	}
	if prev, dup := c.overrides[raw.Environment][raw.Flag]; dup {
		c.errorf(f, p("flag"), "duplicate override of flag %q in %s (already overridden to %q)", raw.Flag, raw.Environment, prev.Serve)
		return
	}
	if c.overrides[raw.Environment] == nil {
		c.overrides[raw.Environment] = map[string]*ruleset.Override{}
	}
	c.overrides[raw.Environment][raw.Flag] = o
	if c.overrideFiles[raw.Environment] == nil {
		c.overrideFiles[raw.Environment] = map[string]*yfile{}
	}
	c.overrideFiles[raw.Environment][raw.Flag] = f
}

// overrideTarget checks that an override's directory, environment and flag
// agree and name a declared environment and a known flag, which it returns.
func (c *checker) overrideTarget(f *yfile, raw *overrideYAML) (*flagSrc, bool) {
	dirEnv := path.Base(path.Dir(f.rel))
	ok := true
	if c.settingsOK && !c.envs[dirEnv] {
		c.errorf(f, p("environment"), "overrides/%s/ is not a declared environment", dirEnv)
		ok = false
	} else if raw.Environment != dirEnv {
		c.errorf(f, p("environment"), "environment %q does not match the directory: files in overrides/%s/ must have environment %q", raw.Environment, dirEnv, dirEnv)
		ok = false
	}
	if want := baseName(f.rel); raw.Flag != want {
		c.errorf(f, p("flag"), "flag %q does not match the file name: %s must have flag %q", raw.Flag, f.rel, want)
		ok = false
	}
	fs, known := c.flags[raw.Flag]
	if !known {
		if !c.broken["flag/"+raw.Flag] {
			c.errorf(f, p("flag"), "unknown flag %q", raw.Flag)
		}
		ok = false
	}
	return fs, ok
}
