package zone

import (
	"context"
	"fmt"
	"sort"

	"github.com/xdpdns/xdpdns/zonecompiler/wire"
)

// Spec names one zone to load: its origin and master file.
type Spec struct {
	Origin string
	File   string
}

// Set is an immutable collection of zones served together. Reloads build
// a new Set and swap it in whole.
type Set struct {
	byOrigin map[string]*Zone
	list     []*Zone
}

// NewSet builds a Set from loaded zones; two zones with one origin are an
// error.
func NewSet(zones ...*Zone) (*Set, error) {
	s := &Set{byOrigin: make(map[string]*Zone, len(zones))}
	for _, z := range zones {
		if _, dup := s.byOrigin[string(z.Origin.Lower)]; dup {
			return nil, fmt.Errorf("zone %s configured twice", z.Name())
		}
		s.byOrigin[string(z.Origin.Lower)] = z
		s.list = append(s.list, z)
	}
	sort.Slice(s.list, func(i, j int) bool { return wire.Compare(s.list[i].Origin.Lower, s.list[j].Origin.Lower) < 0 })
	return s, nil
}

// LoadSet loads every zone in specs; any failure fails the whole set.
func LoadSet(specs []Spec, opt Options) (*Set, error) {
	return LoadSetContext(context.Background(), specs, opt)
}

// LoadSetContext is LoadSet that stops when ctx is done.
func LoadSetContext(ctx context.Context, specs []Spec, opt Options) (*Set, error) {
	zones := make([]*Zone, 0, len(specs))
	for _, sp := range specs {
		z, err := LoadFileContext(ctx, sp.Origin, sp.File, opt)
		if err != nil {
			return nil, err
		}
		zones = append(zones, z)
	}
	return NewSet(zones...)
}

// Zones lists the zones in canonical order of their origins.
func (s *Set) Zones() []*Zone { return s.list }

// Zone returns the zone whose origin is the lower-case wire name, or nil.
func (s *Set) Zone(lower []byte) *Zone { return s.byOrigin[string(lower)] }

// Find returns the zone with the longest origin at or above the lower-case
// wire name, or nil when no zone encloses it.
func (s *Set) Find(lower []byte) *Zone {
	for i := 0; i < wire.MaxLabels; i++ {
		if z := s.byOrigin[string(lower)]; z != nil {
			return z
		}
		if len(lower) == 0 || lower[0] == 0 {
			return nil
		}
		lower = wire.Parent(lower)
	}
	return nil
}

// Parent returns the served zone that encloses z's apex, or nil.
func (s *Set) Parent(z *Zone) *Zone {
	if z.Origin.Lower[0] == 0 {
		return nil
	}
	return s.Find(wire.Parent(z.Origin.Lower))
}

// With returns a new Set with z replacing the zone of the same origin (or
// added), leaving s unchanged.
func (s *Set) With(z *Zone) *Set {
	zones := make([]*Zone, 0, len(s.list)+1)
	for _, old := range s.list {
		if string(old.Origin.Lower) != string(z.Origin.Lower) {
			zones = append(zones, old)
		}
	}
	ns, _ := NewSet(append(zones, z)...)
	return ns
}
