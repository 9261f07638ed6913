package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

type levelResult struct {
	created     int
	toSteady    time.Duration
	writes      []auditEvent
	rssBytes    int64
	peakRSS     int64
	cpuSeconds  float64
	objectCount int
}

type results struct {
	machine       string
	kcmQPS        int
	order         []int
	levels        map[int]levelResult
	idleWrites    int
	idleReads     float64
	sequential    []time.Duration
	statusLatency []time.Duration
	resizeWrites  writeCount
	concurrent    []time.Duration
	restartWrites int
}

func percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), values...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	index := int(p*float64(len(sorted))+0.5) - 1
	index = max(0, min(index, len(sorted)-1))
	return sorted[index]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mark(ok bool) string {
	if ok {
		return "pass"
	}
	return "**miss**"
}

func (r *results) markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "# elasticflux benchmarks\n\nMachine: %s. Local control plane from `hack/cluster-up.sh` (Kubernetes 1.36.3, 25 kwok nodes, audit log on); kube-controller-manager's client at %d requests/s; the controller runs as its own ServiceAccount with default flags. Figures in brackets are the other operator's on the same machine.\n\n", r.machine, r.kcmQPS)

	top := r.order[len(r.order)-1]
	last := r.levels[top]
	creationWrites := 0
	if last.created > 0 {
		creationWrites = len(last.writes)
	}
	perCreated := float64(creationWrites) / float64(max(last.created, 1))
	creationEvents := 0
	for _, e := range last.writes {
		if e.ObjectRef.Resource == "events" {
			creationEvents++
		}
	}

	seqP99 := percentile(r.sequential, 0.99)
	conP99 := percentile(r.concurrent, 0.99)
	rw := r.resizeWrites
	perResizePatches := float64(rw.jobPatches) / rw.perResize
	perResizeStatus := float64(rw.statusWrites) / rw.perResize
	perResizeOther := float64(rw.other) / rw.perResize
	perResizeEvents := float64(rw.events) / rw.perResize

	fmt.Fprintf(&s, "| figure | measured | target | |\n| --- | --- | --- | --- |\n")
	fmt.Fprintf(&s, "| resize → Job patch, sequential, one MiniCluster at %d, p50 / p99 (%d resizes) | %s / %s | ≤ 20 ms p99 [38.8 ms] | %s |\n",
		top, len(r.sequential), ms(percentile(r.sequential, 0.5)), ms(seqP99), mark(len(r.sequential) > 0 && seqP99 <= 20*time.Millisecond))
	fmt.Fprintf(&s, "| resize → Job patch, 20 MiniClusters at once at %d, p50 / p99 (%d resizes) | %s / %s | ≤ 150 ms p99 [1.62 s] | %s |\n",
		top, len(r.concurrent), ms(percentile(r.concurrent, 0.5)), ms(conP99), mark(len(r.concurrent) > 0 && conP99 <= 150*time.Millisecond))
	fmt.Fprintf(&s, "| resize → `status.size` and `readySize` show it (pods Running in kwok), p50 / p99 | %s / %s | report | |\n",
		ms(percentile(r.statusLatency, 0.5)), ms(percentile(r.statusLatency, 0.99)))
	fmt.Fprintf(&s, "| controller writes per resize | %.2f Job patch + %.2f status + %.2f other (+ %.2f Event) | 1 Job patch + ≤ 1 status, none per pod [2 + one per new pod] | %s |\n",
		perResizePatches, perResizeStatus, perResizeOther, perResizeEvents, mark(perResizePatches <= 1 && perResizeStatus <= 1 && perResizeOther == 0))
	fmt.Fprintf(&s, "| controller writes per MiniCluster created, until steady | %.2f (of which %.2f Events) | ≤ 6 [8] | %s |\n",
		perCreated, float64(creationEvents)/float64(max(last.created, 1)), mark(perCreated <= 6))
	fmt.Fprintf(&s, "| %d MiniClusters created → all steady (wave of %d) | %.1f s | ≤ 30 s [57 s for the last 500] | %s |\n",
		top, last.created, last.toSteady.Seconds(), mark(last.toSteady <= 30*time.Second))
	fmt.Fprintf(&s, "| idle 2 minutes at %d: writes / reads (GET, LIST; watch renewals not counted) by the controller | %d / %.0f | 0 / 0 [0 writes, ~10 uncached LISTs per second] | %s |\n",
		top, r.idleWrites, r.idleReads, mark(r.idleWrites == 0 && r.idleReads == 0))
	fmt.Fprintf(&s, "| controller restart with %d present: writes in the first 2 minutes | %d | 0 [1,001 status rewrites] | %s |\n",
		top, r.restartWrites, mark(r.restartWrites == 0))
	fmt.Fprintf(&s, "| controller RSS after settling at %d (peak) | %s (%s) | ≤ 80 MiB [163 MiB] | %s |\n",
		top, mib(last.rssBytes), mib(last.peakRSS), mark(last.rssBytes <= 80<<20))

	fmt.Fprintf(&s, "\n## Growth\n\n| MiniClusters | wave created | wave → all steady | writes in wave (per MiniCluster) | RSS | peak RSS | CPU seconds so far |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, level := range r.order {
		l := r.levels[level]
		fmt.Fprintf(&s, "| %d | %d | %.1f s | %d (%.2f) | %s | %s | %.1f |\n", level, l.created, l.toSteady.Seconds(),
			len(l.writes), float64(len(l.writes))/float64(max(l.created, 1)), mib(l.rssBytes), mib(l.peakRSS), l.cpuSeconds)
	}
	if small, ok := r.levels[100]; ok {
		growth := float64(last.rssBytes-small.rssBytes) / float64(max(top-100, 1))
		fmt.Fprintf(&s, "\nRSS per MiniCluster from 100 to %d: %.1f KiB (linear growth means this stays flat across levels).\n", top, growth/1024)
	}
	return s.String()
}
