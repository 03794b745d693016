package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/vantage-probe/vantage/report/translog"
)

// Logged is one acknowledged measurement and the leaf the collector said it
// holds it at.
type Logged struct {
	Route     int
	UID       string
	Line      []byte
	LeafIndex uint64
}

// noteLogged keeps the leaf index of each acknowledgement that carries one (a
// collector with a transparency log).
func (res *Result) noteLogged(batch []Pending, a answer) {
	var body struct {
		Results []struct {
			UID       string  `json:"measurement_uid"`
			LeafIndex *uint64 `json:"leaf_index"`
		} `json:"results"`
	}
	if json.Unmarshal(a.body, &body) != nil {
		return
	}
	leaf := make(map[string]uint64, len(body.Results))
	for _, r := range body.Results {
		if r.LeafIndex != nil {
			leaf[r.UID] = *r.LeafIndex
		}
	}
	for _, p := range batch {
		if i, ok := leaf[p.UID]; ok {
			res.Logged = append(res.Logged, Logged{Route: a.route, UID: p.UID, Line: p.Line, LeafIndex: i})
		}
	}
}

// LogFailure is a collector that acknowledged measurements its log does not
// prove: it lost them, changed them, or rewrote its history. Unchecked says the
// check could not be made (the log's routes unreachable over this path, a 5xx or
// 429, an answer that is not the collector's): nothing is proved either way.
type LogFailure struct {
	Collector string
	Err       error
	Unchecked bool
}

// unchecked marks an error of fetching, not of proving.
type unchecked struct{ error }

func (u unchecked) Unwrap() error { return u.error }

// fetchErr classifies a failed log request: the collector saying it holds no
// leaf for a measurement it acknowledged (404) is a failure; anything else means
// the log could not be read over this path.
func fetchErr(what string, err error) error {
	var he *translog.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, err)
	}
	return unchecked{fmt.Errorf("%s: %w", what, err)}
}

// hostTransport sends every request with Host host (a fronted route: the URL
// names the front, Host the collector).
type hostTransport struct {
	rt   http.RoundTripper
	host string
}

func (h hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Host = h.host
	return h.rt.RoundTrip(req)
}

func (f LogFailure) Error() string { return "collector " + f.Collector + ": " + f.Err.Error() }

// CheckLog proves, for each collector that acknowledged measurements with a leaf
// index in this drain, that its signed checkpoint includes each of them at that
// leaf with the exact bytes sent, and that the checkpoint extends the last one
// verified (remembered, with the collector's key pinned on first use, in the
// state file at statePath). The requests go over the route that acknowledged.
func (c *Client) CheckLog(ctx context.Context, res Result, statePath string) []LogFailure {
	if len(res.Logged) == 0 {
		return nil
	}
	st, err := translog.LoadState(statePath)
	if err != nil {
		return []LogFailure{{Collector: "-", Err: err}}
	}
	byRoute := map[int][]Logged{}
	var order []int
	for _, l := range res.Logged {
		if _, ok := byRoute[l.Route]; !ok {
			order = append(order, l.Route)
		}
		byRoute[l.Route] = append(byRoute[l.Route], l)
	}
	var fails []LogFailure
	for _, i := range order {
		r := c.routes()[i]
		name := strings.TrimRight(r.URL, "/")
		if err := c.checkRoute(ctx, i, st, name, byRoute[i]); err != nil {
			var u unchecked
			fails = append(fails, LogFailure{Collector: name, Err: err, Unchecked: errors.As(err, &u)})
		}
	}
	if err := st.Save(statePath); err != nil {
		fails = append(fails, LogFailure{Collector: "-", Err: err})
	}
	return fails
}

func (c *Client) checkRoute(ctx context.Context, i int, st translog.State, name string, logged []Logged) error {
	hc, err := c.httpClient(i)
	if err != nil {
		return unchecked{err}
	}
	r := c.routes()[i]
	if r.Front != "" {
		_, host, err := r.requestURL("")
		if err != nil {
			return unchecked{err}
		}
		rt := hc.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		hc = &http.Client{Transport: hostTransport{rt: rt, host: host}, Timeout: hc.Timeout}
	}
	cl := &translog.Client{HTTP: hc, Collector: RouteBase(r)}
	seen, known := st[name]
	vkey := seen.VerifierKey
	if !known {
		if vkey, err = cl.VerifierKey(ctx); err != nil {
			return fetchErr("log key", err)
		}
		if _, err := note.NewVerifier(vkey); err != nil {
			return unchecked{fmt.Errorf("log key: not a note verifier key (an answer that is not the collector's?): %w", err)}
		}
	}
	signed, err := cl.Checkpoint(ctx)
	if err != nil {
		return fetchErr("checkpoint", err)
	}
	cp, err := translog.OpenCheckpoint(signed, vkey)
	if err != nil {
		return err
	}
	if known {
		old, err := translog.OpenCheckpoint([]byte(seen.Checkpoint), vkey)
		if err != nil {
			return fmt.Errorf("remembered checkpoint: %w", err)
		}
		var hashes [][]byte
		if old.Size > 0 && old.Size < cp.Size {
			if hashes, err = cl.Consistency(ctx, old.Size, cp.Size); err != nil {
				return fetchErr("consistency proof", err)
			}
		}
		if err := translog.VerifyConsistency(old, cp, hashes); err != nil {
			return err
		}
	}
	for k := 0; k < len(logged); k += translog.MaxProofUIDs {
		batch := logged[k:min(k+translog.MaxProofUIDs, len(logged))]
		uids := make([]string, len(batch))
		for j, l := range batch {
			uids[j] = l.UID
		}
		ans, err := cl.Inclusion(ctx, cp.Size, uids)
		if err != nil {
			return fetchErr("inclusion of acknowledged measurements", err)
		}
		if len(ans.Proofs) != len(batch) {
			return fmt.Errorf("%d proofs for %d measurements", len(ans.Proofs), len(batch))
		}
		for j, p := range ans.Proofs {
			l := batch[j]
			if p.UID != l.UID || p.LeafIndex != l.LeafIndex {
				return fmt.Errorf("measurement %s was acknowledged at leaf %d, the log puts %s at %d", l.UID, l.LeafIndex, p.UID, p.LeafIndex)
			}
			if err := translog.VerifyInclusion(cp, p.LeafIndex, l.Line, p.Hashes); err != nil {
				return fmt.Errorf("measurement %s is not in the log as sent (leaf %d, size %d): %w", l.UID, l.LeafIndex, cp.Size, err)
			}
		}
	}
	st[name] = translog.Seen{VerifierKey: vkey, Checkpoint: string(signed)}
	return nil
}
