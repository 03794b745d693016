//go:build linux

package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A minimal nfnetlink_queue client: bind a queue, copy whole packets to user
// space, give a verdict. Constants from linux/netfilter/nfnetlink.h and
// linux/netfilter/nfnetlink_queue.h; no library in the module graph speaks it.
const (
	nfnlSubsysQueue   = 3
	nfqnlMsgPacket    = 0
	nfqnlMsgVerdict   = 1
	nfqnlMsgConfig    = 2
	nfqaCfgCmd        = 1
	nfqaCfgParams     = 2
	nfqaPacketHdr     = 1
	nfqaVerdictHdr    = 2
	nfqaPayload       = 10
	nfqnlCfgCmdBind   = 1
	nfqnlCopyPacket   = 2
	nfAccept          = 1
	nlaTypeMask       = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nlmsgHdrLen       = 16
	nfgenHdrLen       = 4
	nfqueueCopyRange  = 0xffff
	nfqueueRecvBuffer = 1 << 20
)

// packetHandler inspects one queued IPv4 packet; the packet is accepted after it
// returns (an injector answers first, then lets the original through).
type packetHandler func(packet []byte)

// nfqueue is one bound queue.
type nfqueue struct {
	num  uint16
	file *os.File
	seq  uint32
	wg   sync.WaitGroup
}

// openNFQueue binds queue num inside ns and starts handing its packets to h.
func openNFQueue(ns *Namespace, num uint16, h packetHandler) (*nfqueue, error) {
	var fd int
	err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab: nfqueue socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lab: nfqueue bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, nfqueueRecvBuffer)
	q := &nfqueue{num: num, file: os.NewFile(uintptr(fd), "nfqueue")}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, nfqueueCopyRange)
	params[4] = nfqnlCopyPacket
	for _, attr := range []struct {
		typ  uint16
		data []byte
	}{{nfqaCfgCmd, cmd}, {nfqaCfgParams, params}} {
		if err := q.request(nfqnlMsgConfig, unix.NLM_F_ACK, attr.typ, attr.data); err != nil {
			q.file.Close()
			return nil, err
		}
		if err := q.readAck(); err != nil {
			q.file.Close()
			return nil, err
		}
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.loop(h)
	}()
	return q, nil
}

// request sends one nfqueue message carrying a single attribute.
func (q *nfqueue) request(msgType uint16, flags uint16, attrType uint16, data []byte) error {
	q.seq++
	attrLen := 4 + len(data)
	total := nlmsgHdrLen + nfgenHdrLen + align4(attrLen)
	b := make([]byte, total)
	binary.NativeEndian.PutUint32(b[0:], uint32(total))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(b[8:], q.seq)
	b[16] = unix.AF_UNSPEC
	b[17] = 0 // NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], q.num)
	binary.NativeEndian.PutUint16(b[20:], uint16(attrLen))
	binary.NativeEndian.PutUint16(b[22:], attrType)
	copy(b[24:], data)
	if _, err := q.file.Write(b); err != nil {
		return fmt.Errorf("lab: nfqueue send: %w", err)
	}
	return nil
}

// readAck waits for the kernel's answer to the last request.
func (q *nfqueue) readAck() error {
	buf := make([]byte, 4096)
	n, err := q.file.Read(buf)
	if err != nil {
		return fmt.Errorf("lab: nfqueue ack: %w", err)
	}
	msgs := parseNetlink(buf[:n])
	for _, m := range msgs {
		if m.typ == unix.NLMSG_ERROR && len(m.data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.data)); code != 0 {
				return fmt.Errorf("lab: nfqueue config: %w", unix.Errno(-code))
			}
		}
	}
	return nil
}

// loop reads queued packets until the socket is closed.
func (q *nfqueue) loop(h packetHandler) {
	buf := make([]byte, nfqueueCopyRange+4096)
	for {
		n, err := q.file.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				continue // the kernel dropped some packets; go on with the next
			}
			return
		}
		msgs := parseNetlink(buf[:n])
		for _, m := range msgs {
			if m.typ != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.data) < nfgenHdrLen {
				continue
			}
			id, payload, ok := parsePacketAttrs(m.data[nfgenHdrLen:])
			if !ok {
				continue
			}
			if payload != nil {
				h(payload)
			}
			q.verdict(id, nfAccept)
		}
	}
}

// parsePacketAttrs extracts the packet id and payload from a packet message.
func parsePacketAttrs(b []byte) (id uint32, payload []byte, ok bool) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return 0, nil, false
		}
		data := b[4:l]
		switch typ {
		case nfqaPacketHdr:
			if len(data) >= 4 {
				id, ok = binary.BigEndian.Uint32(data), true
			}
		case nfqaPayload:
			payload = data
		}
		if align4(l) >= len(b) {
			break
		}
		b = b[align4(l):]
	}
	return id, payload, ok
}

func (q *nfqueue) verdict(id uint32, verdict uint32) {
	data := make([]byte, 8)
	binary.BigEndian.PutUint32(data, verdict)
	binary.BigEndian.PutUint32(data[4:], id)
	_ = q.request(nfqnlMsgVerdict, 0, nfqaVerdictHdr, data) // a lost verdict leaves one query queued until Close
}

// Close unbinds the queue and waits for the reader.
func (q *nfqueue) Close() error {
	err := q.file.Close()
	q.wg.Wait()
	return err
}

func align4(n int) int { return (n + 3) &^ 3 }

// netlinkMessage is one message of a netlink datagram.
type netlinkMessage struct {
	typ  uint16
	data []byte
}

// parseNetlink splits a datagram into messages. QUIRK: not syscall's parser, which
// rejects a last message whose length is not padded to 4 bytes, as nfqueue's
// packet messages often are.
func parseNetlink(b []byte) []netlinkMessage {
	var out []netlinkMessage
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		out = append(out, netlinkMessage{typ: binary.NativeEndian.Uint16(b[4:]), data: b[nlmsgHdrLen:l]})
		if align4(l) >= len(b) {
			break
		}
		b = b[align4(l):]
	}
	return out
}
