// Package bpf holds the XDP program (xdpdns.c, compiled by bpf2go into the
// committed xdp_bpfel.o) and the Go types of the maps it reads, generated
// from include/shared.h. Regenerate with `go generate ./bpf` (needs clang);
// check-generated.sh verifies the committed output is up to date.
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -type name_key -type name_ver -type name_val -type name_ent -type name_slot -type answer_ver -type answer_val -type answer_slot -type tmpl -type tmpl_versions -type chunk -type denial_zone -type denial_zone_versions -type denial_entry -type config -type addr_key -type tap_event Xdp xdpdns.c -- -I./include -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror -fdebug-compilation-dir=.
//go:generate go run ./internal/abigen -header include/shared.h -go abi/abi_gen.go -doc ../docs/CONFIG.md
