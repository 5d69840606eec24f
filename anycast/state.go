//go:build linux

package anycast

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
)

// ownedState is what the speaker has put on the host, kept in
// Config.StateFile so that a speaker that starts after a crash (kill -9
// leaves the service addresses in place) recognises its own leftovers and
// removes them, and never touches what another owner added.
type ownedState struct {
	Interface        string         `json:"interface"`
	CreatedInterface bool           `json:"created_interface"`
	Addresses        []netip.Prefix `json:"addresses"`
}

// saveState records what the speaker owns now; with nothing owned the
// file is removed. Written atomically (temporary file, rename).
func (s *Speaker) saveState() error {
	path := s.cfg.StateFile
	if path == "" {
		return nil
	}
	if len(s.added) == 0 && !s.createdIf {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state file %s: %w", path, err)
		}
		return nil
	}
	b, err := json.Marshal(ownedState{Interface: s.cfg.Interface, CreatedInterface: s.createdIf, Addresses: s.added})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("state file directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state file: %w", err)
	}
	return nil
}

// recoverState reads the state a previous run left (it crashed, or was
// killed, before it could clean up) and removes its leftovers: the service
// addresses it had added, if they are still there, and the interface it had
// created. A missing file means nothing is left over; an unreadable one is
// reported and set aside, touching nothing.
func (s *Speaker) recoverState() error {
	path := s.cfg.StateFile
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	var st ownedState
	if err := json.Unmarshal(b, &st); err != nil || st.Interface == "" {
		bad := path + ".unreadable"
		os.Rename(path, bad)
		return fmt.Errorf("state file %s does not parse (kept as %s); no leftover removed: %v", path, bad, err)
	}
	s.log.Warn("a previous run left service addresses behind; removing them", "interface", st.Interface,
		"addresses", fmt.Sprint(st.Addresses), "created_interface", st.CreatedInterface)
	// prev stands for the previous run (no state file of its own: the file
	// is rewritten below).
	prev := &Speaker{cfg: Config{Interface: st.Interface}, log: s.log, added: slices.Clone(st.Addresses), createdIf: st.CreatedInterface}
	var errs []error
	if err := prev.removeAddresses(); err != nil {
		errs = append(errs, err)
	}
	if err := prev.deleteInterface(); err != nil {
		errs = append(errs, err)
	}
	// What could not be removed stays ours, recorded.
	if st.Interface == s.cfg.Interface {
		s.added, s.createdIf = prev.added, prev.createdIf
	} else if len(prev.added) > 0 || prev.createdIf {
		errs = append(errs, fmt.Errorf("leftovers on %s could not all be removed: %v", st.Interface, prev.added))
	}
	if err := s.saveState(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
