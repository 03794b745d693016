package collector_test

import (
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-probe/vantage/report/collector"
	"github.com/vantage-probe/vantage/report/collector/collectortest"
	"github.com/vantage-probe/vantage/report/collector/storage"
)

// pgSwitch is a loopback TCP front to the local PostgreSQL socket that the test
// can cut (every connection closed, new ones refused) and restore, as if the
// database server went down and came back.
type pgSwitch struct {
	t      *testing.T
	addr   string
	socket string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newPGSwitch(t *testing.T, socket string) *pgSwitch {
	s := &pgSwitch{t: t, addr: "127.0.0.1:0", socket: socket}
	s.up()
	t.Cleanup(s.down)
	return s
}

func (s *pgSwitch) up() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("unix", s.socket)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.conns = append(s.conns, c, b)
			s.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (s *pgSwitch) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func TestReadyFailsWhileTheDatabaseIsDownAndRecovers(t *testing.T) {
	schemaURL := collectortest.PostgresSchemaURL(t) // skips without PostgreSQL
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	socket := q.Get("host") + "/.s.PGSQL." + cmpOr(q.Get("port"), "5432")
	if _, err := os.Stat(socket); err != nil {
		t.Skipf("PostgreSQL is not on a local socket (%s): %v", socket, err)
	}
	sw := newPGSwitch(t, socket)
	host, port, _ := net.SplitHostPort(sw.addr)
	q.Set("host", host)
	q.Set("port", port)
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	db, err := storage.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newTestServer(t, collector.NewServer(collector.Config{Store: db}).Handler())

	ready := func() (int, []byte) { return get(t, c+collector.PathReady) }
	if code, body := ready(); code != 200 {
		t.Fatalf("ready with the database up: %d %s", code, body)
	}
	sw.down()
	code, body := ready()
	if code != 503 || !strings.Contains(string(body), "not ready") {
		t.Fatalf("ready with the database down: %d %s, want 503", code, body)
	}
	if code, _ := get(t, c+collector.PathHealth); code != 200 {
		t.Errorf("healthz with the database down: %d, want 200 (the process is up)", code)
	}
	sw.up()
	if code, body := ready(); code != 200 {
		t.Fatalf("ready once the database is back: %d %s", code, body)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
