// Package buildinfo says which build of xdpdns is running: the version
// set at link time, or the module version and VCS revision Go recorded.
// xdpdnsd (status, CHAOS version default aside) and xdpdnsctl both report it.
package buildinfo

import "runtime/debug"

// version is set at link time
// (-ldflags "-X github.com/xdpdns/xdpdns/internal/buildinfo.version=v1.2.3");
// otherwise Version reads the build information.
var version string

// Version returns the build's version: the link-time version, else the
// main module's version and VCS revision from the build information.
func Version() string {
	if version != "" {
		return version
	}
	v := "xdpdns (devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = "xdpdns " + bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}
