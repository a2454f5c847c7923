package sdk

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []sseEvent
		lines int
	}{
		{
			name:  "put then patch",
			in:    "event: put\nid: v1\ndata: {\"a\":1}\n\nevent: patch\nid: v2\ndata: {}\n\n",
			want:  []sseEvent{{Type: "put", ID: "v1", Data: []byte(`{"a":1}`)}, {Type: "patch", ID: "v2", Data: []byte(`{}`)}},
			lines: 8,
		},
		{
			name:  "comments and CRLF",
			in:    ": ping\r\n\r\nevent: put\r\ndata:x\r\n\r\n",
			want:  []sseEvent{{Type: "put", Data: []byte("x")}},
			lines: 5,
		},
		{
			name:  "multi-line data, first line empty",
			in:    "data\ndata: b\ndata:  c\n\n",
			want:  []sseEvent{{Type: "message", Data: []byte("\nb\n c")}},
			lines: 4,
		},
		{
			name:  "id persists and unknown fields are ignored",
			in:    "id: 7\nretry: 10\nfoo: bar\ndata: a\n\ndata: b\n\n",
			want:  []sseEvent{{Type: "message", ID: "7", Data: []byte("a")}, {Type: "message", ID: "7", Data: []byte("b")}},
			lines: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := 0
			r := newSSEReader(strings.NewReader(tt.in), 1<<10, func() { lines++ })
			var got []sseEvent
			for {
				ev, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				got = append(got, ev)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
			if lines != tt.lines {
				t.Errorf("onLine called %d times, want %d", lines, tt.lines)
			}
		})
	}
}

func TestSSEReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"line too long", "data: " + strings.Repeat("x", 100) + "\n\n", errEventTooLarge},
		{"event too large", strings.Repeat("data: xxxxxxxxxx\n", 10) + "\n", errEventTooLarge},
		{"cut mid-line", "event: put\ndata: {", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newSSEReader(strings.NewReader(tt.in), 64, nil).Next()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Next error = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzSSEReader feeds arbitrary bytes to the parser: it must not panic,
// must end, and must never return an event larger than its limit.
func FuzzSSEReader(f *testing.F) {
	f.Add([]byte("event: put\nid: v1\ndata: {}\n\n"))
	f.Add([]byte(": ping\r\n\r\ndata\ndata: x\n\n"))
	f.Add([]byte("data: " + strings.Repeat("y", 300) + "\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 256
		r := newSSEReader(strings.NewReader(string(in)), limit, nil)
		for range len(in) + 1 {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if len(ev.Data) > limit {
				t.Fatalf("event of %d bytes passed a %d-byte limit", len(ev.Data), limit)
			}
		}
		if _, err := r.Next(); err == nil {
			t.Fatal("more events than lines of input")
		}
	})
}
