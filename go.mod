module github.com/xdpdns/xdpdns

go 1.26.8

require (
	github.com/cilium/ebpf v0.22.0
	github.com/miekg/dns v1.1.73
	golang.org/x/sys v0.47.0
)

require golang.org/x/net v0.57.0 // indirect

tool github.com/cilium/ebpf/cmd/bpf2go
