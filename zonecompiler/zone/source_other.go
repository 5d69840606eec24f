//go:build !linux

package zone

import "io/fs"

// sourceOf describes the file path whose status is st (size and mtime
// only off Linux).
func sourceOf(path string, st fs.FileInfo) Source {
	return Source{Path: path, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
}
