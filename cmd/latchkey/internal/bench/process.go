package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is a server process on this machine whose CPU time and memory
// the bench reads from /proc (Linux).
type Process struct{ PID int }

// Usage is what a process spent during a measured run.
type Usage struct {
	CPU     time.Duration // user + system time
	PeakRSS uint64        // bytes
}

// ListenerPID finds the process listening on TCP port (IPv4 or IPv6) by
// matching the socket's inode in /proc/net/tcp{,6} with the file
// descriptors under /proc/PID/fd. It sees only processes this user may
// inspect.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f) // #nosec G304 -- one of the two fixed /proc paths above
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("bench: no process listens on port %d here", port)
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range dirs {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
			if err == nil {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("bench: the process listening on port %d is not visible to this user", port)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPU returns the process's user plus system time so far.
func (p *Process) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: unreadable /proc stat times")
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// memory returns VmRSS and VmHWM (the peak) in bytes.
func (p *Process) memory() (rss, hwm uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, sc.Err()
}

// resetPeak restarts VmHWM from the current RSS (writing 5 to clear_refs),
// so the peak is this run's; it fails for another user's process.
func (p *Process) resetPeak() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.PID), []byte("5"), 0) == nil
}

// watcher follows a process through one measured run: CPU time from start
// to stop, and the peak RSS (the kernel's own peak when it could be reset,
// else the highest of samples taken every 20 ms).
type watcher struct {
	p       *Process
	cpu0    time.Duration
	exact   bool
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	sampled uint64
}

func (p *Process) watch() *watcher {
	if p == nil {
		return nil
	}
	w := &watcher{p: p, done: make(chan struct{})}
	w.exact = p.resetPeak()
	w.cpu0, _ = p.CPU()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := p.memory(); err == nil {
				w.mu.Lock()
				w.sampled = max(w.sampled, rss)
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the watch; nil when the process could not be read.
func (w *watcher) stop() *Usage {
	if w == nil {
		return nil
	}
	close(w.done)
	w.wg.Wait()
	cpu, err := w.p.CPU()
	rss, hwm, merr := w.p.memory()
	if err != nil || merr != nil {
		return nil
	}
	u := &Usage{CPU: cpu - w.cpu0, PeakRSS: max(w.sampled, rss)}
	if w.exact {
		u.PeakRSS = max(u.PeakRSS, hwm)
	}
	return u
}
