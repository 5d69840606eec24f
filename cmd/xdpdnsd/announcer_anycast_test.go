package main

import (
	"testing"

	"github.com/xdpdns/xdpdns/config"
)

// The example anycast configuration maps to a speaker configuration that
// package anycast accepts, field for field.
func TestAnycastConfigFromExample(t *testing.T) {
	c := config.Default()
	if err := config.ParseFile("../../examples/xdpdnsd-anycast.conf", c); err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	ac := anycastConfig(c)
	if err := ac.Validate(); err != nil {
		t.Fatalf("anycast refuses the example: %v", err)
	}
	if ac.ASN != 64512 || len(ac.Peers) != 2 || ac.Peers[0].HoldTime.String() != "1m30s" || ac.Peers[1].Password != "s3cret" ||
		len(ac.Prefixes) != 2 || ac.Prefixes[0].LargeCommunities[0] != "64512:53:1" || ac.Prefixes[1].MED != 10 ||
		ac.Interface != "lo" || len(ac.Addresses) != 2 {
		t.Errorf("mapped %+v", ac)
	}
}
