package ruleset

import (
	"regexp"
	"strings"
	"sync"
)

// maxCachedRegexps bounds regexCache: past it the cache starts over, so a
// long-running syncer that sees many patterns over time holds at most this
// many.
const maxCachedRegexps = 4096

// regexCache shares the compiled form of each `matches` pattern between
// the conditions, environments and compilations that use it: a repository
// typically repeats a few patterns over thousands of flags, and both
// compiling a pattern and measuring its program (regexProgramSize) cost
// more than the rest of its condition. A *regexp.Regexp is safe for
// concurrent use, so sharing it between rule sets is safe.
var regexCache struct {
	mu sync.Mutex
	m  map[string]*cachedRegexp
}

// cachedRegexp is the outcome of compiling one pattern: the expression and
// its program size, or why the pattern is rejected.
type cachedRegexp struct {
	re   *regexp.Regexp
	cost int
	msg  string
}

// compileRegexp compiles pattern as addOperand requires: it returns the
// expression and its cost, or a message saying why the pattern is invalid
// or over the limits.
func compileRegexp(pattern string) (*regexp.Regexp, int, string) {
	regexCache.mu.Lock()
	c := regexCache.m[pattern]
	regexCache.mu.Unlock()
	if c != nil {
		return c.re, c.cost, c.msg
	}
	c = &cachedRegexp{}
	re, err := regexp.Compile(pattern)
	switch {
	case err != nil:
		c.msg = "invalid regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	default:
		if c.msg = checkRegex(pattern); c.msg == "" {
			c.re = re
			c.cost, _ = regexProgramSize(pattern)
		}
	}
	regexCache.mu.Lock()
	if regexCache.m == nil || len(regexCache.m) >= maxCachedRegexps {
		regexCache.m = make(map[string]*cachedRegexp)
	}
	regexCache.m[pattern] = c
	regexCache.mu.Unlock()
	return c.re, c.cost, c.msg
}
