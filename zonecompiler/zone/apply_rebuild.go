package zone

// rebuild makes the new version whole, as Load would from its records,
// when the change moved a zone-wide fact that every node depends on (the
// NSEC3 parameters hash every name): the records of the new version,
// copied because the builder sets their TTLs, go through Load's builder.
func (a *applier) rebuild() (*Zone, *Changed, error) {
	z := a.old
	nodes := z.nodes.with(a.work)
	nsec3 := z.nsec3ByKey.with(a.work3)
	b := newBuilder(&Zone{Origin: z.Origin, File: z.File, Expired: z.Expired, lazy: &derived{}}, a.b.opt)
	var err error
	add := func(n *Node) {
		for s := range n.EachSet {
			for _, list := range [][]*RR{s.RRs(), s.Sigs()} {
				for _, rr := range list {
					if err == nil {
						c := *rr
						err = b.addRR(&c)
					}
				}
			}
		}
	}
	nodes.each(add)
	nsec3.each(add)
	if err != nil {
		return nil, nil, err
	}
	if err := b.finish(); err != nil {
		return nil, nil, err
	}
	return b.z, &Changed{All: true}, nil
}
