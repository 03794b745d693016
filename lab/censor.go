//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Block is one censor behaviour of a scenario; a scenario composes several.
// Targets are site names or IPv4 addresses; a block with no targets applies to all
// traffic where that makes sense (udp443.drop, throttle).
type Block struct {
	Kind    string   `toml:"block"`
	Targets []string `toml:"targets"`
	// Answer is the address a lying resolver or injector answers with.
	Answer string `toml:"answer"`
	// Percent is the share of packets dropped by "loss".
	Percent int `toml:"percent"`
	// Rate is a tc rate for "throttle", e.g. "512kbit".
	Rate string `toml:"rate"`
	// On and Off are the seconds the network stays up and down for "flip".
	On  float64 `toml:"on"`
	Off float64 `toml:"off"`
	// FirstOn, when set, is the length of the first up phase of "flip" (the
	// network starts up): a long period can then be made to flip inside a check.
	FirstOn float64 `toml:"first_on"`
	// Bytes is how many bytes a target may send on one connection before
	// "stall.after" drops the rest.
	Bytes int `toml:"bytes"`
}

// Default answers of the lying blocks.
const (
	// defaultBogon is a private address, as KZ and RU resolvers return to sink
	// blocked names; any RFC 1918 answer is a bogon to the probe.
	defaultBogon = "10.10.34.36"
	// defaultWrong is a foreign address that hosts none of the scenario's sites:
	// it answers, but not with the site (the dns.inconsistent case).
	defaultWrong = "45.60.254.1"
	// nfqueueNum is the queue the DNS injector binds (one per router namespace).
	nfqueueNum = 7
	// tbfBurst must exceed the link MTU: tbf drops packets larger than its bucket.
	tbfBurst = "16kb"
)

// blockFunc applies one block to a lab.
type blockFunc func(ctx context.Context, l *Lab, b Block) error

// blocks is the catalogue of censor behaviours, by the name scenarios use.
var blocks = map[string]blockFunc{
	"dns.nxdomain":     lyingResolver(dnsAction{rcode: dns.RcodeNameError}),
	"dns.servfail":     lyingResolver(dnsAction{rcode: dns.RcodeServerFailure}),
	"dns.refused":      lyingResolver(dnsAction{rcode: dns.RcodeRefused}),
	"dns.drop":         lyingResolver(dnsAction{drop: true}),
	"dns.bogon":        lyingAddress(defaultBogon),
	"dns.wrong":        lyingAddress(defaultWrong),
	"dns.redirect":     redirectDNS,
	"dns.inject":       injectDNS,
	"ip.drop":          addressSet("drop"),
	"tcp.reset":        addressSet("meta l4proto tcp reject with tcp reset"),
	"tcp.flaky":        addressSet("tcp flags syn numgen inc mod 2 == 0 reject with tcp reset"),
	"icmp.unreachable": addressSet("reject with icmp type host-unreachable"),
	"sni.reset":        perSNI("-j", "REJECT", "--reject-with", "tcp-reset"),
	"sni.drop":         perSNI("-j", "DROP"),
	"http.blockpage":   redirectPort(80, blockpagePort),
	"http.diff":        redirectPort(80, alteredPort),
	"http.redirect":    warningRedirect,
	"http.denied":      redirectPort(80, deniedPort),
	"http.reset":       perHostHeader("-j", "REJECT", "--reject-with", "tcp-reset"),
	"tls.eof":          redirectPort(443, eofPort),
	"tls.mitm":         redirectPort(443, interceptorPort),
	"tls.mitm.sni":     interceptBySNI,
	"udp443.drop":      dropUDP443,
	"throttle":         throttle,
	"loss":             randomLoss,
	"stall.after":      stallAfter,
	"partial":          partialFlows,
	"allowlist":        allowlist,
	"shutdown":         shutdown,
	"flip":             flip,
	"upstream.dead":    upstreamDead,
	"local.noroute":    localNoRoute,
	"local.linkdown":   localLinkDown,
}

// BlockKinds lists the names of every censor block.
func BlockKinds() []string {
	out := make([]string, 0, len(blocks))
	for k := range blocks {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// iptables runs iptables in the router namespace; -w waits for the xtables lock,
// which concurrent labs share.
func (l *Lab) iptables(ctx context.Context, args ...string) error {
	return l.Topology.Router.Run(ctx, append([]string{"iptables", "-w"}, args...)...)
}

func lyingResolver(act dnsAction) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		if len(b.Targets) == 0 {
			return fmt.Errorf("lab: %s needs targets", b.Kind)
		}
		for _, t := range b.Targets {
			l.ispResolver.override(t, act)
		}
		return nil
	}
}

func lyingAddress(def string) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		a, err := answerAddr(b, def)
		if err != nil {
			return err
		}
		return lyingResolver(dnsAction{addr: a})(ctx, l, b)
	}
}

func answerAddr(b Block, def string) (netip.Addr, error) {
	s := b.Answer
	if s == "" {
		s = def
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("lab: %s: answer %q is not an IPv4 address", b.Kind, s)
	}
	return a, nil
}

// redirectDNS sends every DNS query crossing the router to the ISP's resolver,
// whatever resolver the probe asked (DNAT of port 53).
func redirectDNS(ctx context.Context, l *Lab, b Block) error {
	for _, proto := range []string{"udp", "tcp"} {
		err := l.iptables(ctx, "-t", "nat", "-A", "PREROUTING", "-i", routerLANIf, "-p", proto, "--dport", "53",
			"!", "-d", RouterAddr.String(), "-j", "DNAT", "--to-destination", RouterAddr.String()+":53")
		if err != nil {
			return err
		}
	}
	return nil
}

// injectDNS answers queries for the targets from the router before the real
// resolver can, via NFQUEUE.
func injectDNS(ctx context.Context, l *Lab, b Block) error {
	a, err := answerAddr(b, defaultWrong)
	if err != nil {
		return err
	}
	if len(b.Targets) == 0 {
		return fmt.Errorf("lab: dns.inject needs targets")
	}
	answers := map[string]netip.Addr{}
	for _, t := range b.Targets {
		answers[t] = a
	}
	inj, err := startDNSInjector(l.Topology.Router, nfqueueNum, answers)
	if err != nil {
		return err
	}
	l.onClose(inj.Close)
	return l.iptables(ctx, "-A", "FORWARD", "-i", routerLANIf, "-p", "udp", "--dport", "53",
		"-j", "NFQUEUE", "--queue-num", strconv.Itoa(nfqueueNum), "--queue-bypass")
}

// requiredTargets returns the addresses of a block's targets, which the block
// cannot do without.
func requiredTargets(l *Lab, b Block) ([]netip.Addr, error) {
	addrs, err := l.World.addrsOf(b.Targets)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("lab: %s needs targets", b.Kind)
	}
	return addrs, nil
}

// perAddress adds one FORWARD rule per target address, matching traffic towards it.
func perAddress(match ...string) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		addrs, err := requiredTargets(l, b)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			args := append([]string{"-A", "FORWARD", "-i", routerLANIf, "-d", a.String()}, match...)
			if err := l.iptables(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	}
}

// addressSet applies an nftables statement to traffic towards the targets, held in
// one set: a blocklist of a thousand addresses is still one rule.
func addressSet(statement string) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		addrs, err := requiredTargets(l, b)
		if err != nil {
			return err
		}
		elems := make([]string, len(addrs))
		for i, a := range addrs {
			elems[i] = a.String()
		}
		table := "lab_" + strings.NewReplacer(".", "_").Replace(b.Kind)
		return l.nft(ctx, fmt.Sprintf(`table ip %s {
	set targets {
		type ipv4_addr
		elements = { %s }
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname %q ip daddr @targets %s
	}
}
`, table, strings.Join(elems, ", "), routerLANIf, statement))
	}
}

// perSNI matches the target name in TLS ClientHellos to port 443 (the xt string
// match finds the server_name bytes in the first flight).
func perSNI(action ...string) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		if len(b.Targets) == 0 {
			return fmt.Errorf("lab: %s needs targets", b.Kind)
		}
		for _, name := range b.Targets {
			args := append([]string{"-A", "FORWARD", "-i", routerLANIf, "-p", "tcp", "--dport", "443",
				"-m", "string", "--string", canonicalName(name), "--algo", "bm"}, action...)
			if err := l.iptables(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	}
}

// perHostHeader matches the target name in plain-HTTP requests to port 80 (the
// Host header): the connection is set up, then the request is killed.
func perHostHeader(action ...string) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		if len(b.Targets) == 0 {
			return fmt.Errorf("lab: %s needs targets", b.Kind)
		}
		for _, name := range b.Targets {
			args := append([]string{"-A", "FORWARD", "-i", routerLANIf, "-p", "tcp", "--dport", "80",
				"-m", "string", "--string", "Host: " + canonicalName(name), "--algo", "bm", "--icase"}, action...)
			if err := l.iptables(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	}
}

// redirectPort transparently sends connections to the targets' port to a service
// on the router (the blockpage server, the TLS interceptor).
func redirectPort(port, to int) blockFunc {
	return func(ctx context.Context, l *Lab, b Block) error {
		addrs, err := requiredTargets(l, b)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			err := l.iptables(ctx, "-t", "nat", "-A", "PREROUTING", "-i", routerLANIf, "-p", "tcp",
				"-d", a.String(), "--dport", strconv.Itoa(port),
				"-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", RouterAddr, to))
			if err != nil {
				return err
			}
		}
		return nil
	}
}

// warningRedirect answers the targets' port 80 with a 302 to the national warning
// host named by Answer (a site of the scenario, so that the redirect can be
// followed), as Kazakh ISPs sent blocked sites' visitors to a warning page.
func warningRedirect(ctx context.Context, l *Lab, b Block) error {
	if b.Answer == "" {
		return fmt.Errorf("lab: http.redirect needs answer = the warning host's name")
	}
	l.warningHost.Store(canonicalName(b.Answer))
	return redirectPort(80, warningPort)(ctx, l, b)
}

// interceptBySNI sends every TLS connection of the LAN through the SNI-triggered
// interceptor, which forges certificates for the targets only. Connections it
// splices leave from the router itself, so FORWARD blocks no longer see them:
// combine it with other blocks on port 443 only knowingly.
func interceptBySNI(ctx context.Context, l *Lab, b Block) error {
	if len(b.Targets) == 0 {
		return fmt.Errorf("lab: tls.mitm.sni needs targets")
	}
	s, err := startSNIInterceptor(l.Topology.Router, b.Targets, l.NationalCA, l.World)
	if err != nil {
		return err
	}
	l.onClose(s.Close)
	return l.iptables(ctx, "-t", "nat", "-A", "PREROUTING", "-i", routerLANIf, "-p", "tcp", "--dport", "443",
		"-j", "DNAT", "--to-destination", fmt.Sprintf("%s:%d", RouterAddr, sniProxyPort))
}

// dropUDP443 drops QUIC to the targets, or all QUIC without targets.
func dropUDP443(ctx context.Context, l *Lab, b Block) error {
	if len(b.Targets) == 0 {
		return l.iptables(ctx, "-A", "FORWARD", "-i", routerLANIf, "-p", "udp", "--dport", "443", "-j", "DROP")
	}
	return perAddress("-p", "udp", "--dport", "443", "-j", "DROP")(ctx, l, b)
}

// throttle limits traffic from the targets towards the probe (an htb class per
// lab, matched on source address), or all downstream traffic without targets
// (tbf). tc netem does not exist on the lab's kernels, so only rates are shaped.
func throttle(ctx context.Context, l *Lab, b Block) error {
	if b.Rate == "" {
		return fmt.Errorf("lab: throttle needs a rate")
	}
	r := l.Topology.Router.Name
	if len(b.Targets) == 0 {
		return run(ctx, "ip", "netns", "exec", r, "tc", "qdisc", "add", "dev", routerLANIf, "root",
			"tbf", "rate", b.Rate, "burst", tbfBurst, "latency", "400ms")
	}
	addrs, err := l.World.addrsOf(b.Targets)
	if err != nil {
		return err
	}
	steps := [][]string{
		{"tc", "qdisc", "add", "dev", routerLANIf, "root", "handle", "1:", "htb", "default", "10"},
		{"tc", "class", "add", "dev", routerLANIf, "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"},
		{"tc", "class", "add", "dev", routerLANIf, "parent", "1:", "classid", "1:20", "htb", "rate", b.Rate, "ceil", b.Rate},
	}
	for _, a := range addrs {
		steps = append(steps, []string{"tc", "filter", "add", "dev", routerLANIf, "parent", "1:", "protocol", "ip",
			"u32", "match", "ip", "src", a.String() + "/32", "flowid", "1:20"})
	}
	for _, s := range steps {
		if err := l.Topology.Router.Run(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// randomLoss drops the given share of forwarded packets at random (nftables
// numgen; tc netem is not available).
func randomLoss(ctx context.Context, l *Lab, b Block) error {
	if b.Percent <= 0 || b.Percent > 100 {
		return fmt.Errorf("lab: loss: percent %d is outside 1..100", b.Percent)
	}
	rule := fmt.Sprintf("numgen random mod 100 < %d drop", b.Percent)
	if b.Percent == 100 {
		rule = "drop" // numgen's range is 0..99
	}
	script := fmt.Sprintf(`table inet lab_loss {
	chain forward {
		type filter hook forward priority -10; policy accept;
		%s
	}
}
`, rule)
	return l.nft(ctx, script)
}

// stallAfter lets each connection from a target carry Bytes bytes towards the probe,
// then drops the rest of it: a transfer that starts and stops dead (a DPI box that
// lets the first packets of a flow through before it decides). conntrack counts
// the bytes, so the router's accounting is switched on.
func stallAfter(ctx context.Context, l *Lab, b Block) (err error) {
	if b.Bytes <= 0 {
		return fmt.Errorf("lab: stall.after: bytes must be positive")
	}
	addrs, err := requiredTargets(l, b)
	if err != nil {
		return err
	}
	elems := make([]string, len(addrs))
	for i, a := range addrs {
		elems[i] = a.String()
	}
	// The rule loads conntrack; its accounting sysctl exists from then on.
	defer func() {
		if err == nil {
			err = l.Topology.Router.sysctl("net/netfilter/nf_conntrack_acct", "1")
		}
	}()
	return l.nft(ctx, fmt.Sprintf(`table ip lab_stall {
	set targets {
		type ipv4_addr
		elements = { %s }
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		oifname %q ip saddr @targets ct reply bytes > %d drop
	}
}
`, strings.Join(elems, ", "), routerLANIf, b.Bytes))
}

// partialFlows refuses a fixed share of new flows, network-wide: the Beeline
// picture of January 2022, where some connections went through and most did not.
// A counter (numgen inc), not a coin, decides, so the share holds over a short
// run; packets of a flow that got through are never dropped. The counter's
// period is the share's reduced fraction (60 % is "3 of every 5"), not 100: a
// period of 100 refused 60 new flows in a row, and a probe making a few
// connections a second could sit in that streak for half a minute.
func partialFlows(ctx context.Context, l *Lab, b Block) error {
	if b.Percent <= 0 || b.Percent >= 100 {
		return fmt.Errorf("lab: partial: percent %d is outside 1..99", b.Percent)
	}
	g := gcd(b.Percent, 100)
	script := fmt.Sprintf(`table inet lab_partial {
	chain forward {
		type filter hook forward priority -10; policy accept;
		iifname %q ct state new numgen inc mod %d < %d drop
	}
}
`, routerLANIf, 100/g, b.Percent/g)
	return l.nft(ctx, script)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (l *Lab) nft(ctx context.Context, script string) error {
	cmd := l.Topology.Router.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: nft: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// allowlist lets through only traffic to the domestic range (the KZ January 2022
// and RU 2025 "white list" phase).
func allowlist(ctx context.Context, l *Lab, b Block) error {
	return l.iptables(ctx, "-A", "FORWARD", "-i", routerLANIf, "!", "-d", Domestic.String(), "-j", "DROP")
}

// shutdown drops everything the router would forward; the router itself (gateway,
// ISP resolver) still answers, as in Kazakhstan on 5 January 2022.
func shutdown(ctx context.Context, l *Lab, b Block) error {
	return l.iptables(ctx, "-A", "FORWARD", "-j", "DROP")
}

// upstreamDead cuts the ISP's uplink: the gateway answers, its resolver cannot
// resolve (SERVFAIL), nothing beyond it is reachable.
func upstreamDead(ctx context.Context, l *Lab, b Block) error {
	l.ispResolver.overrideAll(dnsAction{rcode: dns.RcodeServerFailure})
	return run(ctx, "ip", "-n", l.Topology.Router.Name, "link", "set", routerWANIf, "down")
}

// localNoRoute removes the probe's default route: a local failure.
func localNoRoute(ctx context.Context, l *Lab, b Block) error {
	return run(ctx, "ip", "-n", l.Topology.Probe.Name, "route", "del", "default")
}

// localLinkDown takes the probe's only interface down: a local failure.
func localLinkDown(ctx context.Context, l *Lab, b Block) error {
	return run(ctx, "ip", "-n", l.Topology.Probe.Name, "link", "set", probeIf, "down")
}
