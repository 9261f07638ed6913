// Command pause is the sandbox process of every pod on the local cluster's
// real node: it holds the pod's namespaces open and does nothing else until
// it is told to stop. In a pod that shares its process namespace it is PID 1,
// so it also reaps the orphans that end up as its children.
//
// hack/node/images.sh builds it, statically, as the only file of the image
// the node's containerd uses as its sandbox image; no registry is needed.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		reapChildren()
	}
}

// reapChildren collects every child that has exited, so none stays a zombie.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
