package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	Type string // "message" when the stream gave no `event:` field
	ID   string
	Data []byte
}

// errEventTooLarge is returned when one event exceeds the reader's limit.
var errEventTooLarge = errors.New("event larger than the limit")

// sseReader parses a text/event-stream as the WHATWG HTML specification
// describes it: `field: value` lines, `:` comments, events dispatched by a
// blank line.
type sseReader struct {
	r      *bufio.Reader
	limit  int
	onLine func() // called for every line, comments included (liveness)

	typ    string
	id     string
	data   bytes.Buffer
	lines  int // data lines of the event being read
	hasAny bool
}

func newSSEReader(r io.Reader, limit int, onLine func()) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10), limit: limit, onLine: onLine}
}

// Next returns the next event, or the error that ended the stream (io.EOF
// when the server closed it cleanly).
func (s *sseReader) Next() (sseEvent, error) {
	for {
		line, err := s.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if s.onLine != nil {
			s.onLine()
		}
		if len(line) == 0 {
			if !s.hasAny {
				continue
			}
			ev := sseEvent{Type: s.typ, ID: s.id, Data: bytes.Clone(s.data.Bytes())}
			if ev.Type == "" {
				ev.Type = "message"
			}
			s.typ, s.hasAny, s.lines = "", false, 0
			s.data.Reset()
			return ev, nil
		}
		if err := s.field(line); err != nil {
			return sseEvent{}, err
		}
	}
}

// field records one non-blank line.
func (s *sseReader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment, such as `: ping`
	}
	name, value, found := bytes.Cut(line, []byte(":"))
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(name) {
	case "event":
		s.typ, s.hasAny = string(value), true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			s.id = string(value)
		}
		s.hasAny = true
	case "data":
		if s.data.Len()+len(value)+1 > s.limit {
			return fmt.Errorf("reading event stream: %w (%d bytes)", errEventTooLarge, s.limit)
		}
		if s.lines > 0 {
			s.data.WriteByte('\n')
		}
		s.data.Write(value)
		s.lines++
		s.hasAny = true
	}
	return nil // "retry" and unknown fields are ignored
}

// readLine returns one line without its terminator (LF or CRLF; the
// bearer never ends lines with a lone CR), refusing lines longer than the
// limit.
func (s *sseReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(line)+len(chunk) > s.limit+2 {
			return nil, fmt.Errorf("reading event stream: %w (%d bytes)", errEventTooLarge, s.limit)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}
