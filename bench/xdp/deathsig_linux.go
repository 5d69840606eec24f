package xdp

import (
	"os/exec"
	"syscall"
)

// dieWithParent has cmd killed when the process that started it dies.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
