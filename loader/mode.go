package loader

import "fmt"

// This file builds on every platform (loader.go is Linux-only), so that a
// configuration can hold a Mode wherever it is parsed.

// Mode is how the program is attached to an interface.
type Mode int

const (
	// ModeNative attaches in the driver and fails where unsupported.
	ModeNative Mode = iota
	// ModeGeneric attaches in the kernel's generic (SKB) XDP path.
	ModeGeneric
	// ModeAuto tries native, then generic.
	ModeAuto
)

func (m Mode) String() string {
	switch m {
	case ModeNative:
		return "native"
	case ModeGeneric:
		return "generic"
	case ModeAuto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "native", "generic" or "auto" ("" is auto too).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "native":
		return ModeNative, nil
	case "generic":
		return ModeGeneric, nil
	case "auto", "":
		return ModeAuto, nil
	}
	return 0, fmt.Errorf("XDP mode %q: want native, generic or auto", s)
}
