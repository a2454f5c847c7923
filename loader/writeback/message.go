package writeback

import (
	"cmp"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flagpole/flagpole/ruleset"
)

// maxSubject is the length a commit subject is cut to, as git tools
// expect a short first line.
const maxSubject = 72

// Message returns the commit message that records action on the override
// file of flag in env, as the Writer's own commits have it: o is the
// override set (ignored for ActionClear), requester who asked for it, reason
// why. `flagpole override --repo` commits with it, so that a person's
// override reads in `git log` like the leader's.
func Message(action Action, env, flag string, o ruleset.Override, requester, reason string) string {
	return message(&write{env: env, flag: flag, action: action, override: o, requester: requester, reason: reason})
}

// message returns the commit message of w: a subject that says what
// happened, a body with the details a reader of `git log` needs, and a
// Requested-by trailer.
func message(w *write) string {
	var subject string
	var body []string
	who := oneLine(w.requester)
	reason := oneLine(w.reason)
	file := "File: " + Path(w.env, w.flag)
	switch w.action {
	case ActionSet:
		o := w.override
		subject = fmt.Sprintf("override: %s %s in %s", w.flag, o.Serve, w.env)
		body = append(body, fmt.Sprintf("%s serves %q to everyone in %s.", w.flag, o.Serve, w.env))
		if reason != "" {
			body = append(body, "Reason: "+reason)
		}
		if o.By != "" {
			body = append(body, "By: "+oneLine(o.By))
		}
		body = append(body, "At: "+timestamp(o.At))
		if o.Expires != nil {
			body = append(body, "Expires: "+timestamp(*o.Expires))
		} else {
			body = append(body, "Expires: never (until cleared)")
		}
		if r := o.Recovery; r != nil {
			body = append(body, fmt.Sprintf("Recovery: from %s, %s%% of users evaluated normally, %s%% more every %s",
				timestamp(r.StartAt), number(r.Start), number(r.Step), duration(time.Duration(r.Every))))
		}
	case ActionDisable:
		return disableMessage(w)
	default:
		subject = fmt.Sprintf("override: clear %s in %s", w.flag, w.env)
		body = append(body, fmt.Sprintf("%s in %s is evaluated by its rules again.", w.flag, w.env))
		if reason != "" {
			body = append(body, "Reason: "+reason)
		}
	}
	if reason != "" {
		subject = cut(subject+" ("+reason, maxSubject-1) + ")"
	}
	body = append(body, file)
	msg := subject + "\n\n" + strings.Join(body, "\n") + "\n"
	if who != "" {
		msg += "\nRequested-by: " + who + "\n"
	}
	return msg
}

// oneLine joins the lines of s, so that a value cannot forge a trailer or
// a header line of its own.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cut shortens s to n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// disableMessage is the message of a flag disabled in one environment's
// overlay (the breaker's on_trip: commit): "<by>: disable <flag> in <env>
// (<reason>)", the reason without its own "<by>: " prefix.
func disableMessage(w *write) string {
	o := w.override
	by := oneLine(o.By)
	reason := oneLine(w.reason)
	subject := fmt.Sprintf("disable %s in %s", w.flag, w.env)
	if by != "" {
		subject = by + ": " + subject
		reason = strings.TrimPrefix(reason, by+": ")
	}
	if reason != "" {
		subject = cut(subject+" ("+reason, maxSubject-1) + ")"
	}
	body := []string{fmt.Sprintf("%s serves its off variant %q to everyone in %s: enabled: false in its %s overlay.",
		w.flag, o.Serve, w.env, w.env)}
	if r := oneLine(w.reason); r != "" {
		body = append(body, "Reason: "+r)
	}
	if by != "" {
		body = append(body, "By: "+by)
	}
	body = append(body, "At: "+timestamp(o.At),
		"Recovery: none; a person enables the flag again in git.",
		"File: "+cmp.Or(w.file, FlagPaths(w.flag)[0]))
	msg := subject + "\n\n" + strings.Join(body, "\n") + "\n"
	if who := oneLine(w.requester); who != "" {
		msg += "\nRequested-by: " + who + "\n"
	}
	return msg
}
