package ruleset

// semver is a parsed Semantic Versioning 2.0 version. pre is the pre-release
// part (without the leading "-"), a substring of the parsed text, so parsing
// does not allocate. Build metadata is dropped: it has no precedence.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver parses a semantic version such as "1.2.3", "v1.2.3-rc.1" or
// "1.2.3+build.5" without allocating. It rejects leading zeros in numeric
// parts, empty identifiers and characters outside [0-9A-Za-z-].
func parseSemver(s string) (semver, bool) {
	var v semver
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	var ok bool
	if v.major, s, ok = semverNumber(s); !ok || len(s) == 0 || s[0] != '.' {
		return v, false
	}
	if v.minor, s, ok = semverNumber(s[1:]); !ok || len(s) == 0 || s[0] != '.' {
		return v, false
	}
	if v.patch, s, ok = semverNumber(s[1:]); !ok {
		return v, false
	}
	if len(s) > 0 && s[0] == '-' {
		end := len(s)
		for i := 1; i < len(s); i++ {
			if s[i] == '+' {
				end = i
				break
			}
		}
		v.pre = s[1:end]
		if !validIdentifiers(v.pre, true) {
			return v, false
		}
		s = s[end:]
	}
	if len(s) > 0 {
		if s[0] != '+' || !validIdentifiers(s[1:], false) {
			return v, false
		}
	}
	return v, true
}

// semverNumber parses a numeric part (no leading zeros) at the start of s.
func semverNumber(s string) (n uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, s, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}

// validIdentifiers checks dot-separated identifiers; numeric pre-release
// identifiers must not have leading zeros.
func validIdentifiers(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && len(id) > 1 && id[0] == '0' && isNumeric(id) {
			return false
		}
		start = i + 1
	}
	return true
}

func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// compareSemver returns -1, 0 or +1 by semver precedence.
func compareSemver(a, b semver) int {
	if c := cmpUint(a.major, b.major); c != 0 {
		return c
	}
	if c := cmpUint(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmpUint(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

// comparePre compares two non-empty pre-release strings identifier by
// identifier.
func comparePre(a, b string) int {
	for {
		ia, ra, moreA := cutDot(a)
		ib, rb, moreB := cutDot(b)
		if c := compareIdent(ia, ib); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

func cutDot(s string) (head, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// compareIdent compares pre-release identifiers: numeric ones by value
// (by length first: they have no leading zeros), numeric before
// alphanumeric, alphanumeric ones in ASCII order.
func compareIdent(a, b string) int {
	na, nb := isNumeric(a), isNumeric(b)
	switch {
	case na && nb:
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case na:
		return -1
	case nb:
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
