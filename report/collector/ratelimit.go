package collector

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate limits of the `vantage collector serve` binary (a Server built with a nil
// Config.RateLimit has none). Uploads are limited per probe key (the probe_id of
// their verified signatures); other requests per client address prefix: /32 for
// IPv4, /64 for IPv6 (one IPv6 subscriber usually holds a whole /64, so a smaller
// prefix would give one host millions of buckets).
const (
	// DefaultIngestRate and DefaultIngestBurst, per probe key: a probe drains its
	// queue in batches of up to 50 measurements (upload.DefaultBatchSize), so a run
	// of 1,000 URLs is 20 requests, which the burst takes at once; a steady 10 per
	// second is far more than one probe measures.
	DefaultIngestRate  = 10
	DefaultIngestBurst = 60
	// DefaultReadRate and DefaultReadBurst: a researcher paging through the list
	// API or loading the web page makes a few requests per second; bulk readers
	// should use the export, one request.
	DefaultReadRate  = 50
	DefaultReadBurst = 200
	// DefaultMaxClients bounds the limiter's memory: each tracked client costs
	// about 210 bytes of heap (BenchmarkLimiterNewClients), so 65,536 clients are
	// about 14 MB per bucket kind.
	DefaultMaxClients = 1 << 16
	// DefaultClientIdle is how long an unseen client's bucket is kept; after it
	// the bucket would be full anyway, so forgetting it changes nothing.
	DefaultClientIdle = 10 * time.Minute
)

// RateLimit configures per-client token buckets: one for uploads, one for every
// other request. A rate of 0 disables that bucket.
type RateLimit struct {
	IngestRate  float64 // uploads per second per probe key
	IngestBurst int     // uploads a probe key may send at once; < 1 means 1
	ReadRate    float64 // other requests per second per client
	ReadBurst   int
	// MaxClients caps the clients tracked per bucket kind; when full, the client
	// seen least recently is forgotten. 0 means DefaultMaxClients.
	MaxClients int
	// Idle is how long a client's bucket outlives its last request; 0 means
	// DefaultClientIdle.
	Idle time.Duration
	// TrustForwardedFor takes the client's address from the last entry of
	// X-Forwarded-For (the one the reverse proxy appended). Off by default: without
	// a proxy in front, any client could name any address there.
	TrustForwardedFor bool
}

// DefaultRateLimit is what `vantage collector serve` uses unless told otherwise.
func DefaultRateLimit() RateLimit {
	return RateLimit{IngestRate: DefaultIngestRate, IngestBurst: DefaultIngestBurst,
		ReadRate: DefaultReadRate, ReadBurst: DefaultReadBurst}
}

// limiter is one kind of token bucket for every client, in least-recently-seen
// order so that the cap evicts in O(1).
type limiter[K comparable] struct {
	rate    float64
	burst   float64
	max     int
	idle    time.Duration
	mu      sync.Mutex
	clients map[K]*list.Element // of *bucket[K]
	order   list.List           // front: most recently seen
}

type bucket[K comparable] struct {
	client K
	tokens float64
	last   time.Time
}

func newLimiter[K comparable](rate float64, burst, maxClients int, idle time.Duration) *limiter[K] {
	if burst < 1 {
		burst = 1
	}
	if maxClients <= 0 {
		maxClients = DefaultMaxClients
	}
	if idle <= 0 {
		idle = DefaultClientIdle
	}
	return &limiter[K]{rate: rate, burst: float64(burst), max: maxClients, idle: idle,
		clients: make(map[K]*list.Element)}
}

// allow takes a token from client's bucket. When there is none it returns false
// and how long until there will be one.
func (l *limiter[K]) allow(client K, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evictIdle(now)
	var b *bucket[K]
	if e, ok := l.clients[client]; ok {
		b = e.Value.(*bucket[K])
		l.order.MoveToFront(e)
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		}
	} else {
		for len(l.clients) >= l.max {
			l.remove(l.order.Back())
		}
		b = &bucket[K]{client: client, tokens: l.burst}
		l.clients[client] = l.order.PushFront(b)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// peek reports whether client's bucket holds a token, without taking one or
// tracking a new client.
func (l *limiter[K]) peek(client K, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[client]
	if !ok {
		return true, 0
	}
	b := e.Value.(*bucket[K])
	tokens := b.tokens
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		tokens = math.Min(l.burst, tokens+elapsed*l.rate)
	}
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// evictIdle forgets the clients not seen for l.idle (they are at the back).
func (l *limiter[K]) evictIdle(now time.Time) {
	for e := l.order.Back(); e != nil; e = l.order.Back() {
		if now.Sub(e.Value.(*bucket[K]).last) < l.idle {
			return
		}
		l.remove(e)
	}
}

func (l *limiter[K]) remove(e *list.Element) {
	delete(l.clients, e.Value.(*bucket[K]).client)
	l.order.Remove(e)
}

// tracked is the number of clients the limiter holds (for tests).
func (l *limiter[K]) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// rateLimiter applies a RateLimit: reads per client address, in front of the
// handler; uploads per probe key, once the upload's signatures are verified
// (allowProbes). Many volunteers share one carrier-grade NAT address: a limit per
// address would throttle all of them together, while a key that floods is limited
// alone. A key costs nothing to make, so a flood of fresh keys is held by the
// ingest byte budget and slots, not by this limiter.
//
// An upload refused as the client's fault (a 4xx but 429: no valid signature,
// a forgery, a bad shape) proves no key, so it is charged to its address instead, in a bucket of
// its own with the read limits; an address whose bucket is empty has its uploads
// refused before they are read, which keeps a flood of garbage from one address
// from costing more than its reading.
type rateLimiter struct {
	ingest   *limiter[string]       // per probe id; nil: not limited
	read     *limiter[netip.Prefix] // per address prefix; nil: not limited
	failed   *limiter[netip.Prefix] // failed uploads per address prefix; nil: not limited
	trustXFF bool
	now      func() time.Time
	refused  func(bucket string) // nil: not counted; bucket is "read" or "ingest"
}

func newRateLimiter(rl RateLimit, now func() time.Time) *rateLimiter {
	r := &rateLimiter{trustXFF: rl.TrustForwardedFor, now: now}
	if rl.IngestRate > 0 {
		r.ingest = newLimiter[string](rl.IngestRate, rl.IngestBurst, rl.MaxClients, rl.Idle)
	}
	if rl.ReadRate > 0 {
		r.read = newLimiter[netip.Prefix](rl.ReadRate, rl.ReadBurst, rl.MaxClients, rl.Idle)
		r.failed = newLimiter[netip.Prefix](rl.ReadRate, rl.ReadBurst, rl.MaxClients, rl.Idle)
	}
	return r
}

// chargeFailedUpload takes a token from the failed-upload bucket of r's address.
func (rl *rateLimiter) chargeFailedUpload(r *http.Request) {
	if rl == nil || rl.failed == nil {
		return
	}
	if client, ok := clientPrefix(r, rl.trustXFF); ok {
		rl.failed.allow(client, rl.now())
	}
}

// isUpload tells the requests limited per probe key rather than per address.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/api/v1/measurements"
}

// wrap answers 429 with Retry-After (whole seconds, at least 1) to a reading
// client whose bucket is empty, and to an upload from an address whose failed
// uploads emptied its bucket, before anything of the request is read.
func (rl *rateLimiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl.read == nil {
			next.ServeHTTP(w, r)
			return
		}
		client, ok := clientPrefix(r, rl.trustXFF)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		allowed, wait := false, time.Duration(0)
		if isUpload(r) {
			allowed, wait = rl.failed.peek(client, rl.now())
		} else {
			allowed, wait = rl.read.allow(client, rl.now())
		}
		if !allowed {
			if isUpload(r) {
				rl.count("failed_uploads")
			} else {
				rl.count("read")
			}
			w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(wait)))
			writeError(w, http.StatusTooManyRequests, "rate limited, retry later", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowProbes takes one token from the bucket of each probe id of a verified
// upload; when one is empty it returns false and the whole seconds to wait.
// Tokens taken from the others stay taken: the upload is refused as a whole, and
// retried later.
func (rl *rateLimiter) allowProbes(ids []string) (bool, int) {
	if rl == nil || rl.ingest == nil {
		return true, 0
	}
	now := rl.now()
	for _, id := range ids {
		if allowed, wait := rl.ingest.allow(id, now); !allowed {
			rl.count("ingest")
			return false, retrySeconds(wait)
		}
	}
	return true, 0
}

func (rl *rateLimiter) count(bucket string) {
	if rl.refused != nil {
		rl.refused(bucket)
	}
}

func retrySeconds(wait time.Duration) int {
	return max(int(math.Ceil(wait.Seconds())), 1)
}

// clientPrefix is the client's address prefix: the connection's peer, or the last
// X-Forwarded-For entry when trusted (the peer when that entry is malformed). A
// request whose peer address cannot be parsed (a unix socket) is not limited.
func clientPrefix(r *http.Request, trustXFF bool) (netip.Prefix, bool) {
	addr, ok := netip.Addr{}, false
	if xff := r.Header.Values("X-Forwarded-For"); trustXFF && len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		a, err := netip.ParseAddr(strings.TrimSpace(last))
		addr, ok = a, err == nil
	}
	if !ok { // no trusted header, or a malformed one: the peer (the proxy) pays
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Prefix{}, false
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	bits := 64
	if addr.Is4() {
		bits = 32
	}
	p, err := addr.Prefix(bits)
	return p, err == nil
}
