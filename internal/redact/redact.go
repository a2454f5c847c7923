// Package redact removes secrets from URLs and from text that may quote
// them, before they reach an error, a log line or a status page. It is the
// project's one redaction: git remotes, Redis URLs and the SDK's bearer URL
// all go through it.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces every secret.
const Mask = "xxxxx"

// URL returns raw with its secrets replaced by Mask:
//   - the password of the user info, wherever an authority stands: after
//     "scheme://", after a leading "//", or at the start of a scheme-less
//     address such as "user:pass@host:6379";
//   - a lone user part over http and https, which is usually a token
//     ("https://tok@host/r"); other schemes (ssh, redis, scp-like
//     "git@host:org/repo") keep their user name, which is not a secret;
//   - the value of any query parameter whose name contains "password",
//     "token" or "secret".
//
// It never fails: input it cannot make sense of is cut at the last '@' of
// what could be an authority rather than risk printing a secret.
func URL(raw string) string {
	masked, _ := scan(raw)
	return masked
}

// scan returns raw masked as URL describes, and the secrets it masked.
func scan(raw string) (masked string, secrets []string) {
	scheme, rest, hasScheme := splitScheme(raw)
	prefix := ""
	switch {
	case hasScheme && strings.HasPrefix(rest, "//"):
		prefix, rest = scheme+"://", rest[2:]
	case strings.HasPrefix(raw, "//"):
		prefix, rest = "//", raw[2:]
	default:
		// "scheme:opaque": no authority in url's terms, but "user:pass@host"
		// (a Redis address without a scheme) parses this way too.
		scheme, rest = "", raw
		// "x^://user:pass@host", "a:b://…", "#://…": not a scheme to
		// net/url, but what follows "://" still reads as an authority to
		// a person or a looser parser, so it is masked as one.
		if i := strings.Index(raw, "://"); i >= 0 && !strings.Contains(raw[:i], "@") {
			prefix, rest = raw[:i+3], raw[i+3:]
		}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, pass, hasPass := strings.Cut(authority[:at], ":")
		lower := strings.ToLower(scheme)
		switch {
		case hasPass:
			secrets = append(secrets, pass)
			user += ":" + Mask
		case lower == "http" || lower == "https" || (prefix == "//" && user != ""):
			secrets = append(secrets, user)
			user = Mask
		}
		authority = user + "@" + authority[at+1:]
	}
	tail, qs := redactQuery(tail)
	out, more := maskAfterSeparators(prefix + authority + tail)
	return out, append(append(secrets, qs...), more...)
}

// maskAfterSeparators masks the password of what follows every "://" in
// s, up to the next '/', '?' or '#': a second URL inside a path or a
// fragment, or a malformed prefix, must not carry a secret through.
func maskAfterSeparators(s string) (string, []string) {
	var secrets []string
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			return s, secrets
		}
		start := from + i + 3
		end := start + len(s[start:])
		if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
			end = start + j
		}
		seg := s[start:end]
		if at := strings.LastIndexByte(seg, '@'); at >= 0 {
			if user, pass, ok := strings.Cut(seg[:at], ":"); ok && pass != Mask {
				secrets = append(secrets, pass)
				seg = user + ":" + Mask + seg[at:]
				s = s[:start] + seg + s[end:]
				end = start + len(seg)
			}
		}
		from = end
	}
}

// splitScheme splits "scheme:rest" the way net/url recognises a scheme.
func splitScheme(raw string) (scheme, rest string, ok bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return "", raw, false
			}
		case c == ':':
			if i == 0 {
				return "", raw, false
			}
			return raw[:i], raw[i+1:], true
		default:
			return "", raw, false
		}
	}
	return "", raw, false
}

// redactQuery masks secret-looking parameters of "...?query#fragment".
func redactQuery(tail string) (string, []string) {
	q := strings.IndexByte(tail, '?')
	if q < 0 {
		return tail, nil
	}
	var secrets []string
	query, frag, hasFrag := strings.Cut(tail[q+1:], "#")
	parts := strings.Split(query, "&")
	for i, p := range parts {
		rawName, value, hasValue := strings.Cut(p, "=")
		name := rawName
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if hasValue && secretName(name) {
			secrets = append(secrets, value)
			parts[i] = rawName + "=" + Mask
		}
	}
	out := tail[:q+1] + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out, secrets
}

func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "token") || strings.Contains(n, "secret")
}

// Text returns msg with every secret of each raw URL replaced by Mask: the
// password or token of its user info and the values of its secret query
// parameters, as written and percent-decoded. Use it on errors from
// libraries that quote the URL they were given. Secrets shorter than four
// characters are masked only where the whole URL is quoted, since masking
// every "a" or "12" of a message would garble it without hiding anything.
func Text(msg string, rawURLs ...string) string {
	for _, raw := range rawURLs {
		masked, secrets := scan(raw)
		if masked != raw {
			msg = strings.ReplaceAll(msg, raw, masked)
		}
		for _, s := range secrets {
			for _, v := range []string{s, unescape(s)} {
				if len(v) >= 4 && v != Mask {
					msg = strings.ReplaceAll(msg, v, Mask)
				}
			}
		}
	}
	return msg
}

func unescape(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}
