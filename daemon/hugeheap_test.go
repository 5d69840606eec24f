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
// asked for (never more than a quarter of the memory), and the advice is
// on the mappings afterwards (VmFlags "hg" in /proc/self/smaps).
func TestHugeHeap(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("kernel without transparent huge pages:", err)
	}
	const n = 64 << 20
	start, length, err := hugeHeap(n)
	if err != nil {
		t.Fatal(err)
	}
	if start%hugePage != 0 || length%hugePage != 0 || length < n-hugePage || length > n {
		t.Fatalf("advised [%#x, +%#x) for %d bytes: not the whole huge pages inside", start, length, n)
	}
	if flagged := hugeAdvised(t, start, start+length); flagged != length {
		t.Fatalf("%d of the %d advised bytes are on mappings flagged hg", flagged, length)
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
	if _, length, _ := hugeHeap(hugePage); length != 0 {
		t.Fatalf("a small heap advised: %d bytes", length)
	}
}

// hugeAdvised counts the bytes of [lo, hi) on mappings whose VmFlags
// hold "hg" (MADV_HUGEPAGE).
func hugeAdvised(t *testing.T, lo, hi uintptr) uintptr {
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
				if fl == "hg" {
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
