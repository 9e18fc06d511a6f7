package bench

import (
	"net"
	"os"
	"testing"
	"time"
)

// The bench finds a server by the port it listens on, and reads its CPU
// time and memory.
func TestListenerPIDAndUsage(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback here: %v", network, err)
			}
			defer ln.Close()
			pid, err := ListenerPID(ln.Addr().(*net.TCPAddr).Port)
			if err != nil || pid != os.Getpid() {
				t.Fatalf("ListenerPID = %d, %v; want this process %d", pid, err, os.Getpid())
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if _, err := ListenerPID(port); err == nil {
		t.Fatalf("a closed port was found listening")
	}

	p := &Process{PID: os.Getpid()}
	w := p.watch()
	buf := make([]byte, 32<<20) // touched, so resident
	for i := range buf {
		buf[i] = byte(i)
	}
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		_ = buf[len(buf)-1]
	}
	u := w.stop()
	if u == nil || u.CPU <= 0 || u.PeakRSS < 32<<20 {
		t.Fatalf("usage = %+v, want CPU time and a peak above the 32 MiB touched", u)
	}
	_ = buf[0]
	if (*Process)(nil).watch().stop() != nil {
		t.Fatal("a nil process must report no usage")
	}
}
