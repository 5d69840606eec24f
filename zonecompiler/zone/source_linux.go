package zone

import (
	"io/fs"
	"syscall"
)

// sourceOf describes the file path whose status is st.
func sourceOf(path string, st fs.FileInfo) Source {
	s := Source{Path: path, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ChangeTime = syscall.TimespecToNsec(sys.Ctim)
		s.Inode = sys.Ino
	}
	return s
}
