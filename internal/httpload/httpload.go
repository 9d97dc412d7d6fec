// Package httpload is a lean HTTP/1.1 client for load generators: one
// keep-alive connection per Conn, used by one goroutine, that sends a
// request and reads its answer with no allocation in the steady state.
//
// net/http's client costs some tens of microseconds of CPU per request
// (a goroutine per connection for reads and one for writes, the request
// and response objects, header maps). On a machine whose cores the server
// under test shares with its load generator, that CPU is taken from the
// server; a benchmark that should measure the server wants a client as
// cheap as wrk's. This one writes each request with one write(2) and reads
// the answer through a bufio.Reader, understands Content-Length and
// chunked bodies, and reopens the connection when the server closes it.
//
// It is not a general client: no redirects, no TLS, no proxies, no
// HTTP/2, no 1xx answers other than none at all.
package httpload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// Response is one answer. Body and ETag stay valid until the next Do on the
// same Conn.
type Response struct {
	Status int
	ETag   []byte
	Body   []byte
}

// Conn is one keep-alive connection to one server. It is not safe for
// concurrent use.
type Conn struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
	req     []byte // the request being written, reused
	resp    Response
	body    []byte // the body buffer, reused
}

// Dial returns a Conn to addr (host:port) whose requests time out after
// timeout each. The connection is opened at once, so that a wrong address
// fails here.
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	c := &Conn{addr: addr, timeout: timeout}
	if err := c.dial(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.c = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4096)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

// Do sends a request and reads its answer. path is the request target
// (it must be escaped already); header holds extra header lines, each
// "Name: value" without line end; body is sent with a Content-Length when
// not nil. A request on a connection the server closed since the last one
// is sent once more on a new connection.
func (c *Conn) Do(ctx context.Context, method, path string, header []string, body []byte) (*Response, error) {
	c.req = c.req[:0]
	c.req = append(c.req, method...)
	c.req = append(c.req, ' ')
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.addr...)
	c.req = append(c.req, "\r\n"...)
	for _, h := range header {
		c.req = append(c.req, h...)
		c.req = append(c.req, "\r\n"...)
	}
	if body != nil {
		c.req = append(c.req, "Content-Length: "...)
		c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
		c.req = append(c.req, "\r\n"...)
	}
	c.req = append(c.req, "\r\n"...)
	c.req = append(c.req, body...)

	reused := c.c != nil
	for {
		if c.c == nil {
			if err := c.dial(ctx); err != nil {
				return nil, err
			}
		}
		resp, err := c.roundTrip()
		if err == nil {
			return resp, nil
		}
		c.Close()
		// A keep-alive connection that the server closed while idle
		// fails on first use with no answer at all: try once more.
		if reused && errors.Is(err, errNoAnswer) && ctx.Err() == nil {
			reused = false
			continue
		}
		return nil, err
	}
}

// errNoAnswer is a connection that failed before the first byte of the
// answer, other than by a timeout: on a kept connection, the server closed
// it while idle, and the request is sent again on a new one.
var errNoAnswer = errors.New("httpload: the connection closed before an answer")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Conn) roundTrip() (*Response, error) {
	if c.timeout > 0 {
		if err := c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
			return nil, err
		}
	}
	if _, err := c.c.Write(c.req); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	line, err := c.line()
	if err != nil {
		if len(line) == 0 && c.br.Buffered() == 0 && !isTimeout(err) {
			return nil, fmt.Errorf("%w: %w", errNoAnswer, err)
		}
		return nil, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, fmt.Errorf("httpload: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, fmt.Errorf("httpload: bad status line %q", line)
	}
	r := &c.resp
	*r = Response{Status: status, ETag: r.ETag[:0]}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("httpload: bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("httpload: bad Content-Length %q", value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("ETag")):
			r.ETag = append(r.ETag, value...)
		}
	}
	c.body = c.body[:0]
	switch {
	case status == 204 || status == 304 || status/100 == 1:
	case chunked:
		if err := c.readChunked(); err != nil {
			return nil, err
		}
	case length >= 0:
		if err := c.readN(length); err != nil {
			return nil, err
		}
	default: // to the end of the connection
		b, err := io.ReadAll(c.br)
		if err != nil {
			return nil, err
		}
		c.body = append(c.body, b...)
		closing = true
	}
	r.Body = c.body
	if closing {
		c.Close()
	}
	return r, nil
}

// line reads one line without its CRLF. The slice is valid until the next
// read.
func (c *Conn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (c *Conn) readN(n int) error {
	start := len(c.body)
	c.body = slices.Grow(c.body, n)[:start+n]
	_, err := io.ReadFull(c.br, c.body[start:])
	return err
}

func (c *Conn) readChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseUint(string(bytes.TrimSpace(size)), 16, 31)
		if err != nil {
			return fmt.Errorf("httpload: bad chunk size %q", line)
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err := c.line()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(int(n)); err != nil {
			return err
		}
		if line, err := c.line(); err != nil || len(line) != 0 {
			return fmt.Errorf("httpload: chunk not followed by CRLF: %v", err)
		}
	}
}
