package notify

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Formats of a notify entry.
const (
	FormatSlack = "slack"
	FormatJSON  = "json"
)

// maxProblems is how many problems of a sync_error a message lists.
const maxProblems = 5

// encode returns the body of e in format.
func encode(format string, e Event) ([]byte, error) {
	if format == FormatSlack {
		return json.Marshal(slackMessage(e))
	}
	return json.Marshal(jsonMessage(e))
}

// JSONBody is the body of a json-format notification.
type JSONBody struct {
	Event       string     `json:"event"`
	Action      string     `json:"action,omitempty"`
	Flag        string     `json:"flag,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Variant     string     `json:"variant,omitempty"`
	Who         string     `json:"who,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Expires     *time.Time `json:"expires,omitempty"`
	Commit      string     `json:"commit,omitempty"`
	CommitURL   string     `json:"commit_url,omitempty"`
	Problems    []string   `json:"problems,omitempty"`
	Summary     string     `json:"summary"`
	At          time.Time  `json:"at"`
}

func jsonMessage(e Event) JSONBody {
	return JSONBody{Event: e.Kind.String(), Action: e.Action.String(), Flag: e.Flag, Environment: e.Environment,
		Variant: e.Variant, Who: e.Who, Reason: e.Reason, Expires: e.Expires, Commit: e.Commit,
		CommitURL: e.CommitURL, Problems: firstProblems(e.Problems), Summary: e.summary(), At: e.At.UTC()}
}

func firstProblems(p []string) []string {
	if len(p) > maxProblems {
		return p[:maxProblems]
	}
	return p
}

// Slack incoming-webhook payload: text is the notification's fallback,
// blocks what the channel shows (Block Kit).
type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []*slackText `json:"fields,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // plain_text | mrkdwn
	Text string `json:"text"`
}

// Slack's limits: a header's text, a field's text.
const (
	slackHeaderMax = 150
	slackFieldMax  = 2000
)

func slackMessage(e Event) slackPayload {
	header := &slackText{Type: "plain_text", Text: cutRunes(e.title(), slackHeaderMax)}
	blocks := []slackBlock{{Type: "header", Text: header}}
	var fields []*slackText
	field := func(name, value string) {
		if value != "" {
			fields = append(fields, mrkdwn(cutRunes("*"+name+"*\n"+value, slackFieldMax)))
		}
	}
	if e.Flag != "" {
		field("Flag", "`"+escape(e.Flag)+"`")
	}
	field("Environment", escape(e.Environment))
	field("What changed", escape(e.change()))
	field("Who", escape(e.Who))
	if len(fields) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
	}
	if e.Reason != "" {
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(cutRunes("*Why*\n"+escape(e.Reason), slackFieldMax))})
	}
	if p := firstProblems(e.Problems); len(p) > 0 {
		text := "*Problems*\n```" + escape(strings.Join(p, "\n")) + "```"
		if more := len(e.Problems) - len(p); more > 0 {
			text += "\nand " + strconv.Itoa(more) + " more"
		}
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(cutRunes(text, slackFieldMax))})
	}
	if link := commitLink(e); link != "" {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []*slackText{mrkdwn(link)}})
	}
	return slackPayload{Text: e.summary(), Blocks: blocks}
}

// commitLink is "<url|commit abc123>", or the bare hash when there is no
// URL.
func commitLink(e Event) string {
	switch {
	case e.Commit == "":
		return ""
	case e.CommitURL != "":
		return "<" + e.CommitURL + "|commit " + short(e.Commit) + ">"
	}
	return "commit `" + short(e.Commit) + "`"
}

func mrkdwn(s string) *slackText { return &slackText{Type: "mrkdwn", Text: s} }

// escape makes s literal text in Slack's mrkdwn.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
