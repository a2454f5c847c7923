package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// sseEvent is one dispatched SSE event (its data is not kept).
type sseEvent struct {
	name, id string
}

// sseReader is a lightweight GET /v1/stream client: one raw TCP
// connection, a small buffer and no decoding of the data, so that one
// process can hold ten thousand of them.
type sseReader struct {
	conn net.Conn
	r    *bufio.Reader // over the response body
}

// dialStream opens GET /v1/stream on addr with key and checks the response.
func dialStream(addr, key string, timeout time.Duration) (*sseReader, error) {
	return dialStreamFrom(addr, key, "", timeout)
}

// dialStreamFrom is dialStream resuming after version lastID: a bearer
// serving that version sends no put, only later patches.
func dialStreamFrom(addr, key, lastID string, timeout time.Duration) (*sseReader, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	req := "GET /v1/stream HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + key +
		"\r\nAccept: text/event-stream\r\n"
	if lastID != "" {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sending GET /v1/stream: %w", err)
	}
	br := bufio.NewReaderSize(conn, 2048)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("reading the GET /v1/stream response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = conn.Close()
		return nil, fmt.Errorf("GET /v1/stream: status %d: %s", resp.StatusCode, body)
	}
	_ = conn.SetDeadline(time.Time{})
	r := br
	if len(resp.TransferEncoding) > 0 {
		r = bufio.NewReaderSize(resp.Body, 2048) // chunked: decode it
	}
	return &sseReader{conn: conn, r: r}, nil
}

// next returns the next event. Data lines, which may be far longer than
// the buffer, are skipped without being copied.
func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadSlice('\n')
		long := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !long {
			return ev, err
		}
		if long { // a long data line: drop the rest of it
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = s.r.ReadSlice('\n')
			}
			if err != nil {
				return ev, err
			}
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if ev.name != "" || ev.id != "" {
				return ev, nil
			}
		case bytes.HasPrefix(line, []byte("event:")):
			ev.name = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("id:")):
			ev.id = string(bytes.TrimSpace(line[len("id:"):]))
		}
	}
}

func (s *sseReader) close() { _ = s.conn.Close() }
