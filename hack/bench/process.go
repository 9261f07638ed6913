package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// controllerProcess is the controller binary under measurement.
type controllerProcess struct {
	cmd          *exec.Cmd
	metricsAddr  string
	metricsToken string
	done         chan struct{}
}

// metricsClient skips certificate verification: the controller serves a
// certificate it made itself at start, and the benchmark measures, it
// does not decide whom to trust.
var metricsClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // see above
}

// startController runs the controller; metricsToken is what /metrics is
// read with.
func startController(binary, kubeconfig, metricsToken string) (*controllerProcess, error) {
	metricsAddr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	healthAddr, err := freeAddress()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "elasticflux-bench-controller-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "--kubeconfig="+kubeconfig, "--leader-elect=false",
		"--metrics-bind-address="+metricsAddr, "--health-probe-bind-address="+healthAddr, "--v=1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &controllerProcess{cmd: cmd, metricsAddr: metricsAddr, metricsToken: metricsToken, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	// Ready once it serves metrics.
	for range 200 {
		if _, err := p.metric("elasticflux_reconcile_total"); err == nil {
			return p, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("the controller did not come up; log in %s", log.Name())
}

func (p *controllerProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// metric sums every sample of a metric family on /metrics.
func (p *controllerProcess) metric(name string) (float64, error) {
	request, err := http.NewRequest(http.MethodGet, "https://"+p.metricsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	request.Header.Set("Authorization", "Bearer "+p.metricsToken)
	resp, err := metricsClient.Do(request)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %d: %s", resp.StatusCode, body)
	}
	var sum float64
	found := false
	for line := range strings.SplitSeq(string(body), "\n") {
		// name may carry labels, e.g. metric{label="value"}.
		if !strings.HasPrefix(line, name+" ") && !(strings.HasPrefix(line, name+"{") && !strings.Contains(name, "{")) {
			continue
		}
		fields := strings.Fields(line)
		value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, err
		}
		sum += value
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no %s on /metrics", name)
	}
	return sum, nil
}

// procStatus reads a kB field of /proc/<pid>/status as bytes.
func (p *controllerProcess) procStatus(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (p *controllerProcess) rss() int64     { return p.procStatus("VmRSS") }
func (p *controllerProcess) peakRSS() int64 { return p.procStatus("VmHWM") }

// cpuSeconds is the user and system CPU time the process has used.
func (p *controllerProcess) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

func freeAddress() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = listener.Close() }()
	return listener.Addr().String(), nil
}
