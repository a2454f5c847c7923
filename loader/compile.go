package loader

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/flagpole/flagpole/ruleset"
)

// compileAll compiles every Document as the final consistency check: the
// checks of this package should leave ruleset.Compile nothing to find, so
// a problem here is reported against the file it most likely comes from.
func (c *checker) compileAll(docs map[string]*ruleset.Document, opts ruleset.Options) map[string]*ruleset.RuleSet {
	envs := c.settings.Environments
	sets := make([]*ruleset.RuleSet, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sets[i], errs[i] = ruleset.CompileWith(docs[env], opts)
		}()
	}
	wg.Wait()
	out := make(map[string]*ruleset.RuleSet, len(docs))
	for i, env := range envs {
		rs, err := sets[i], errs[i]
		var ce *ruleset.CompileError
		switch {
		case errors.As(err, &ce):
			for _, pr := range ce.Problems {
				c.add(c.compileProblem(env, pr))
			}
		case err != nil:
			c.add(Diagnostic{Message: fmt.Sprintf("compiling environment %s: %v", env, err)})
		default:
			out[env] = rs
		}
	}
	return out
}

// compileProblem places a Compile problem in the file of the flag, audience
// or override its path names.
func (c *checker) compileProblem(env string, pr ruleset.Problem) Diagnostic {
	msg := fmt.Sprintf("environment %s: %s", env, pr.Message)
	var f *yfile
	rest := pr.Path
	switch {
	case strings.HasPrefix(pr.Path, "flags."):
		for k, fs := range c.flags {
			if r, ok := under(pr.Path, "flags."+k); ok {
				f, rest = fs.f, r
			}
		}
	case strings.HasPrefix(pr.Path, "audiences."):
		for k, a := range c.audiences {
			if r, ok := under(pr.Path, "audiences."+k); ok {
				f, rest = a.f, r
			}
		}
	case strings.HasPrefix(pr.Path, "overrides."):
		for k, o := range c.overrideFiles[env] {
			if r, ok := under(pr.Path, "overrides."+k); ok {
				f, rest = o, r
			}
		}
	}
	if f == nil {
		return Diagnostic{Path: pr.Path, Message: msg}
	}
	return Diagnostic{File: f.rel, Line: f.root.Line, Column: f.root.Column, Path: rest, Message: msg}
}

// under reports whether path is prefix or a field of it, and returns the
// rest without the separating dot.
func under(path, prefix string) (string, bool) {
	if path == prefix {
		return "", true
	}
	if strings.HasPrefix(path, prefix) {
		switch r := path[len(prefix):]; r[0] {
		case '.':
			return r[1:], true
		case '[':
			return r, true
		}
	}
	return "", false
}
