package service

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestAccessLogKeepsNoFullAddress(t *testing.T) {
	a := NewAccessLog(slog.New(slog.DiscardHandler))
	for _, c := range []struct{ remote, prefix string }{
		{"203.0.113.77:5123", "203.0.113.0/24"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1::/48"},
		{"[::ffff:198.51.100.9]:80", "198.51.100.0/24"},
		{"@", "-"},
	} {
		p, id := a.Client(c.remote)
		if p != c.prefix {
			t.Errorf("%s: prefix %q, want %q", c.remote, p, c.prefix)
		}
		if c.prefix != "-" && (len(id) != 16 || strings.Contains(id, ":")) {
			t.Errorf("%s: client_id %q, want 16 hex digits", c.remote, id)
		}
	}
	// The id tells two hosts of one prefix apart, and is keyed per process.
	_, a1 := a.Client("203.0.113.77:1")
	_, a2 := a.Client("203.0.113.78:1")
	_, b1 := NewAccessLog(slog.New(slog.DiscardHandler)).Client("203.0.113.77:1")
	if a1 == a2 || a1 == b1 {
		t.Errorf("ids %s %s %s: want distinct hosts and distinct keys to differ", a1, a2, b1)
	}
}

func TestNewLoggerFormats(t *testing.T) {
	var b bytes.Buffer
	log, err := NewLogger(&b, LogJSON)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "k", 1)
	if !strings.HasPrefix(b.String(), `{"time":`) || !strings.Contains(b.String(), `"k":1`) {
		t.Errorf("json log line %q", b.String())
	}
	if _, err := NewLogger(&b, "xml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("bad format: %v, want an error naming --log-format", err)
	}
}
