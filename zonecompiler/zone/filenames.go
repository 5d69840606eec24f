package zone

import (
	"sync"
	"sync/atomic"
)

// fileNames holds the names of the files records were read from, so that
// a record keeps a 16-bit index (RR.File) instead of a pointer. Names are
// only added (a process reads few files, the same ones at every reload);
// past the index's range a file's records read as from no file ("").
// What it holds changes no answer nor check, only the file a message
// names, so tests need not reset it.
var fileNames = &fileTable{ids: map[string]uint16{"": 0}}

type fileTable struct {
	mu    sync.Mutex
	ids   map[string]uint16
	names atomic.Pointer[[]string] // by index; index 0 is ""
}

// maxFiles is how many names fileNames holds, "" included.
const maxFiles = 1 << 16

// id is the index of name, added if new (0 when the table is full).
func (t *fileTable) id(name string) uint16 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[name]; ok {
		return id
	}
	old := t.all()
	if len(old) >= maxFiles {
		return 0
	}
	names := append(append(make([]string, 0, len(old)+1), old...), name)
	id := uint16(len(names) - 1)
	t.ids[name] = id
	t.names.Store(&names)
	return id
}

// all is the names by index.
func (t *fileTable) all() []string {
	if p := t.names.Load(); p != nil {
		return *p
	}
	return []string{""}
}

// name is the file name of index id ("" when unknown).
func (t *fileTable) name(id uint16) string {
	if names := t.all(); int(id) < len(names) {
		return names[id]
	}
	return ""
}
