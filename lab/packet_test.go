//go:build linux

package lab

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestUDP4RoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("45.60.0.53"), netip.MustParseAddr("95.56.1.100")
	p := buildUDP4(src, dst, 53, 40000, []byte("answer"))
	gs, gd, sp, dp, payload, ok := parseUDP4(p)
	if !ok || gs != src || gd != dst || sp != 53 || dp != 40000 || string(payload) != "answer" {
		t.Fatalf("got %v %v %d %d %q %v", gs, gd, sp, dp, payload, ok)
	}
	tcp := bytes.Clone(p)
	tcp[9] = 6
	if _, _, _, _, _, ok := parseUDP4(tcp); ok {
		t.Error("a TCP packet parsed as UDP")
	}
	if _, _, _, _, _, ok := parseUDP4(p[:25]); ok {
		t.Error("a truncated packet parsed")
	}
}

func TestParseNetlinkKeepsUnpaddedLastMessage(t *testing.T) {
	msg := make([]byte, nlmsgHdrLen+nfgenHdrLen+12+4+5) // packet header attr + 5-byte payload attr
	binary.NativeEndian.PutUint32(msg, uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], nfnlSubsysQueue<<8|nfqnlMsgPacket)
	a := msg[nlmsgHdrLen+nfgenHdrLen:]
	binary.NativeEndian.PutUint16(a, 11)
	binary.NativeEndian.PutUint16(a[2:], nfqaPacketHdr)
	binary.BigEndian.PutUint32(a[4:], 42)
	binary.NativeEndian.PutUint16(a[12:], 9)
	binary.NativeEndian.PutUint16(a[14:], nfqaPayload)
	copy(a[16:], "hello")
	msgs := parseNetlink(msg)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1 (the kernel does not pad the last one)", len(msgs))
	}
	id, payload, ok := parsePacketAttrs(msgs[0].data[nfgenHdrLen:])
	if !ok || id != 42 || string(payload) != "hello" {
		t.Fatalf("id %d payload %q ok %v", id, payload, ok)
	}
}

func FuzzPacketParsers(f *testing.F) {
	f.Add(buildUDP4(netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8"), 1, 53, []byte{1, 2}))
	f.Add([]byte{0x0b, 0, 1, 0, 0, 0, 0, 1, 8, 0, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseUDP4(b)
		parsePacketAttrs(b)
		for _, m := range parseNetlink(b) {
			if len(m.data) > len(b) {
				t.Fatal("message longer than its datagram")
			}
		}
	})
}
