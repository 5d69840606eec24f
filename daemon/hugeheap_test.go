package daemon

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHugeHeap: hugeHeap advises whole huge pages of the heap, as many as
// asked for (never more than a quarter of the memory), the advice is on
// the mappings afterwards (VmFlags "hg" in /proc/self/smaps), and end
// takes it back ("nh").
func TestHugeHeap(t *testing.T) {
	mode, err := os.ReadFile(thpEnabled)
	if err != nil || !strings.Contains(string(mode), "[madvise]") {
		t.Skipf("the kernel gives huge pages without advice, or none (%s): nothing to advise (%v)", strings.TrimSpace(string(mode)), err)
	}
	const n = 64 << 20
	a, err := hugeHeap(n)
	if err != nil {
		t.Fatal(err)
	}
	if a.start%hugePage != 0 || a.length%hugePage != 0 || a.length < n-hugePage || a.length > n {
		t.Fatalf("advised [%#x, +%#x) for %d bytes: not the whole huge pages inside", a.start, a.length, n)
	}
	if got := vmFlagged(t, a.start, a.start+a.length, "hg"); got != a.length {
		t.Fatalf("%d of the %d advised bytes are on mappings flagged hg", got, a.length)
	}
	a.end()
	if got := vmFlagged(t, a.start, a.start+a.length, "nh"); got != a.length {
		t.Fatalf("after end, %d of the %d advised bytes are on mappings flagged nh", got, a.length)
	}

	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	quarter := int64(si.Totalram) * int64(si.Unit) / 4
	if got, err := hugeHeapCap(1 << 50); err != nil || got != quarter {
		t.Fatalf("asked for 1 PiB: capped at %d (%v), want a quarter of %d", got, err, 4*quarter)
	}
	if got, _ := hugeHeapCap(n); got != n {
		t.Fatalf("asked for %d: capped at %d", n, got)
	}
	if a, _ := hugeHeap(hugePage); a.length != 0 {
		t.Fatalf("a small heap advised: %d bytes", a.length)
	}
}

// vmFlagged counts the bytes of [lo, hi) on mappings whose VmFlags hold
// flag ("hg": MADV_HUGEPAGE, "nh": MADV_NOHUGEPAGE).
func vmFlagged(t *testing.T, lo, hi uintptr, flag string) uintptr {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total, vlo, vhi uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.Count(fields[0], "-") == 1 && !strings.HasSuffix(fields[0], ":") {
			a, b, _ := strings.Cut(fields[0], "-")
			x, err1 := strconv.ParseUint(a, 16, 64)
			y, err2 := strconv.ParseUint(b, 16, 64)
			if err1 == nil && err2 == nil {
				vlo, vhi = uintptr(x), uintptr(y)
			}
			continue
		}
		if strings.HasPrefix(line, "VmFlags:") && vhi > lo && vlo < hi {
			for _, fl := range fields[1:] {
				if fl == flag {
					total += min(vhi, hi) - max(vlo, lo)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
