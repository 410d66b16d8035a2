// The one program in the kubelet test's two container images (.ci/kubelet-image.sh): the pod
// sandbox's pause process, and, with the argument "cpus", the test container, which first prints
// the threads it may run on (what the kubelet's CPU manager gave it, as the process itself sees
// it) to its log. Either way it then waits, reaping children, until SIGTERM or SIGINT: a sandbox
// that exited on its own would take its pod down with it. Static (CGO_ENABLED=0): the image holds
// nothing but this file.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "cpus" {
		printAllowedCpus()
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

func printAllowedCpus() {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "Cpus_allowed_list:") {
			fmt.Println(lines.Text())
			return
		}
	}
	fmt.Fprintln(os.Stderr, "no Cpus_allowed_list in /proc/self/status")
	os.Exit(1)
}
