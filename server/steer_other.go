//go:build !linux

package server

// steerByCPU: steering a reuseport group by CPU needs Linux.
func steerByCPU([]udpSocket) (bool, error) { return false, nil }
