// Command dnsready waits until a DNS server answers a SOA query for a zone
// with NOERROR and a non-empty answer, polling every 20 ms over UDP, and
// prints how long that took in seconds. kdig and dig cannot wait less than
// one second for an answer, which made startup times of a second or less
// unmeasurable.
//
//	dnsready -server 127.0.0.1:PORT -zone tld. [-timeout 120s]
//
// Exit status 1 when the deadline passes without such an answer.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	server := flag.String("server", "", "server address, host:port (required)")
	zone := flag.String("zone", "", "zone whose SOA is asked for (required)")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after this long")
	flag.Parse()
	if *server == "" || *zone == "" {
		flag.Usage()
		os.Exit(2)
	}
	query, err := soaQuery(*zone, 0x6472)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsready:", err)
		os.Exit(2)
	}
	start := time.Now()
	deadline := start.Add(*timeout)
	for time.Now().Before(deadline) {
		if ask(*server, query) == nil {
			fmt.Printf("%.3f\n", time.Since(start).Seconds())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "dnsready: no answer to %s SOA from %s within %s\n", *zone, *server, *timeout)
	os.Exit(1)
}

// soaQuery renders a query for zone SOA IN with the given id, RD clear.
func soaQuery(zone string, id uint16) ([]byte, error) {
	msg := binary.BigEndian.AppendUint16(nil, id)
	msg = append(msg, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) // flags, QD=1, AN=NS=AR=0
	for _, label := range strings.Split(strings.TrimSuffix(zone, "."), ".") {
		if label == "" || len(label) > 63 {
			return nil, fmt.Errorf("bad zone name %q", zone)
		}
		msg = append(msg, byte(len(label)))
		msg = append(msg, label...)
	}
	return append(msg, 0, 0, 6, 0, 1), nil // root, type SOA, class IN
}

// ask sends one query and accepts only a NOERROR answer to it with at least
// one answer record.
func ask(server string, query []byte) error {
	conn, err := net.Dial("udp", server)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := conn.Write(query); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	resp := buf[:n]
	switch {
	case n < 12 || resp[0] != query[0] || resp[1] != query[1]:
		return errors.New("not our answer")
	case resp[2]&0x80 == 0:
		return errors.New("not a response")
	case resp[3]&0x0f != 0:
		return fmt.Errorf("rcode %d", resp[3]&0x0f)
	case binary.BigEndian.Uint16(resp[6:8]) == 0:
		return errors.New("empty answer")
	}
	return nil
}
