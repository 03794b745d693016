package connectivity

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

// Throughput probe defaults: a cheap, timed download of a canary's page.
const (
	// ThroughputSamples is how many canaries are downloaded from, one after the
	// other so that the samples do not share the link.
	ThroughputSamples = 2
	// ThroughputMaxBytes caps each download: 256 KiB is a few hundred milliseconds
	// on any working mobile link, and costs a volunteer little.
	ThroughputMaxBytes = 256 << 10
	// ThroughputMinBytes is the body, after the first read, below which a sample
	// says nothing: at a round-trip time up to 400 ms slow start delivers 32 KiB
	// within two round trips, i.e. above ThrottledKbps, so an unthrottled path
	// cannot fall under the threshold for lack of bytes alone.
	ThroughputMinBytes = 32 << 10
	// ThroughputTimeout bounds one download. A throttled flow at 130 kbit/s still
	// moves about 64 KiB in 4 s, enough for a sample.
	ThroughputTimeout = 4 * time.Second
)

// Throughput is the download-rate evidence of the throttled verdict.
type Throughput struct {
	Samples []ThroughputSample `json:"samples"`
	// MedianKbps is the median rate of the usable samples; nil when none was.
	MedianKbps    *float64 `json:"median_kbps"`
	ThresholdKbps float64  `json:"threshold_kbps"`
}

// ThroughputSample is one timed download.
type ThroughputSample struct {
	Canary string `json:"canary"`
	URL    string `json:"url"`
	// Bytes counts body bytes after the first read; Seconds is the time from the
	// first read to the last, so that handshakes and server think time are left out.
	Bytes   int64    `json:"bytes"`
	Seconds float64  `json:"seconds"`
	Kbps    *float64 `json:"kbps"` // nil when fewer than ThroughputMinBytes came
	Failure *string  `json:"failure"`
}

// measureThroughput downloads from up to ThroughputSamples canaries that completed
// a TLS handshake in the last round, host names first (their certificate verifies,
// so the connection is usable).
func (m *Measurer) measureThroughput(ctx context.Context, trace *netx.Trace, runs []*canaryRun) *Throughput {
	var picked []*canaryRun
	for _, wantHost := range []bool{true, false} {
		for _, r := range runs {
			n := len(r.out.Rounds)
			// Allowlisted canaries are left out: throughput qualifies an online
			// verdict, which they must not speak to.
			if len(picked) < ThroughputSamples && n > 0 && r.out.Class != ClassAllowlisted && r.out.Rounds[n-1][ProtoTLS].OK > 0 && !r.out.IsLiteral() == wantHost {
				picked = append(picked, r)
			}
		}
	}
	if len(picked) == 0 {
		return nil
	}
	tp := &Throughput{Samples: []ThroughputSample{}, ThresholdKbps: ThrottledKbps}
	var rates []float64
	for _, r := range picked {
		s := m.download(ctx, trace, r)
		tp.Samples = append(tp.Samples, s)
		if s.Kbps != nil {
			rates = append(rates, *s.Kbps)
		}
	}
	if len(rates) > 0 {
		tp.MedianKbps = ptr(median(rates))
	}
	return tp
}

// download fetches the canary's path over HTTP/1.1 on a fresh TLS connection.
func (m *Measurer) download(ctx context.Context, trace *netx.Trace, r *canaryRun) ThroughputSample {
	host := r.out.SNI
	if host == "" {
		host, _, _ = net.SplitHostPort(r.addr)
	}
	s := ThroughputSample{Canary: r.out.Name, URL: "https://" + joinHostPort(host, r.out.Port) + r.out.Path}
	ctx, cancel := context.WithTimeout(ctx, ThroughputTimeout+m.cfg.AttemptTimeout)
	defer cancel()
	conn, err := m.probes.DialTCP(ctx, trace, r.addr)
	if err != nil {
		s.Failure = netx.FailureOf(err)
		return s
	}
	tconn, _, err := m.probes.HandshakeTLS(ctx, trace, conn, r.out.SNI, []string{"http/1.1"})
	if err != nil {
		s.Failure = netx.FailureOf(err)
		return s
	}
	defer tconn.Close()
	tconn.SetDeadline(m.now().Add(ThroughputTimeout))
	stop := context.AfterFunc(ctx, func() { tconn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s.Bytes, s.Seconds, err = m.timedGet(tconn, host, r.out.Path)
	if err != nil && s.Bytes == 0 {
		s.Failure = netx.FailureOf(netx.Wrap("http_round_trip", err))
	}
	if s.Bytes >= ThroughputMinBytes && s.Seconds > 0 {
		s.Kbps = ptr(float64(s.Bytes) * 8 / 1000 / s.Seconds)
	}
	return s
}

// timedGet sends one GET and times the body from its first read to its last. A
// deadline that cuts the body short still yields a sample: a throttled transfer is
// exactly one that does not finish.
func (m *Measurer) timedGet(conn net.Conn, host, path string) (int64, float64, error) {
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vantage-connectivity\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, host)
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	buf := make([]byte, 16<<10)
	var first, last time.Time
	var n int64
	body := io.LimitReader(resp.Body, ThroughputMaxBytes)
	for {
		k, err := body.Read(buf)
		if k > 0 {
			if first.IsZero() {
				first = m.now()
			} else {
				n += int64(k)
				last = m.now()
			}
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			if last.IsZero() {
				return n, 0, err
			}
			return n, last.Sub(first).Seconds(), err
		}
	}
}

func median(xs []float64) float64 {
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinHostPort(host, port string) string { return net.JoinHostPort(host, port) }
