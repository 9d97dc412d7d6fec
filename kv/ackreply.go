package kv

import "strings"

// msgPosition is what kv reads of a JetStream message's reply subject:
// where the message stands in its stream and in its consumer's delivery.
type msgPosition struct {
	seq     uint64 // stream sequence
	time    int64  // the stream's time stamp, unix nanoseconds
	pending uint64 // messages the consumer has yet to deliver after it
}

// parsePosition reads the reply subject of a message a consumer
// delivered, as nats.go's Msg.Metadata does (the same subjects are
// accepted, and the same fields read), without allocating: the key index
// and every watcher read one per message. The subject is
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>,
// or, from newer servers, with <domain>.<account hash> after $JS.ACK. and
// more tokens after <pending>.
func parsePosition(reply string) (msgPosition, bool) {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return msgPosition{}, false
	}
	tokens := strings.Count(reply, ".") + 1
	skip := 3 // stream, consumer, delivered
	switch {
	case tokens == 9:
	case tokens >= 11:
		skip = 5 // domain and account hash too
	default:
		return msgPosition{}, false
	}
	for range skip {
		_, rest, _ = strings.Cut(rest, ".")
	}
	seq, rest, _ := strings.Cut(rest, ".")
	_, rest, _ = strings.Cut(rest, ".") // consumer sequence
	ts, rest, _ := strings.Cut(rest, ".")
	pending, _, _ := strings.Cut(rest, ".")
	return msgPosition{seq: parseNum(seq), time: int64(parseNum(ts)), pending: parseNum(pending)}, true
}

// parseNum reads a decimal number as nats.go does: anything but digits
// reads as 0.
func parseNum(s string) uint64 {
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
