package main

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	Stage          string    `json:"stage"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

func (e auditEvent) isWrite() bool {
	// /metrics asks the API server about its callers with TokenReviews and
	// SubjectAccessReviews: creates that store nothing, made because the
	// benchmark scrapes, not because of any MiniCluster.
	if e.ObjectRef.Resource == "tokenreviews" || e.ObjectRef.Resource == "subjectaccessreviews" {
		return false
	}
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return e.Stage == "" || e.Stage == "ResponseComplete"
	}
	return false
}

// auditOffset marks the end of the audit log, so later reads see only
// what happens after this moment.
func (b *bench) auditOffset() int64 {
	info, err := os.Stat(b.auditLog)
	if err != nil {
		return 0
	}
	return info.Size()
}

// readAudit returns the write events logged after offset, oldest first.
func (b *bench) readAudit(offset int64) []auditEvent {
	// The API server writes the log as requests complete; give the last
	// ones a moment.
	time.Sleep(500 * time.Millisecond)
	file, err := os.Open(b.auditLog)
	if err != nil {
		return nil
	}
	defer func() { _ = file.Close() }()
	if _, err := file.Seek(offset, 0); err != nil {
		return nil
	}
	var events []auditEvent
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var e auditEvent
		if json.Unmarshal(scanner.Bytes(), &e) == nil && e.isWrite() {
			events = append(events, e)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].StageTimestamp.Before(events[j].StageTimestamp) })
	return events
}

// controllerWrites are the controller's writes since offset that keep
// (all of them when keep is nil).
func (b *bench) controllerWrites(offset int64, keep func(auditEvent) bool) []auditEvent {
	var out []auditEvent
	for _, e := range b.readAudit(offset) {
		if e.User.Username == controllerUser && (keep == nil || keep(e)) {
			out = append(out, e)
		}
	}
	return out
}

// writeCount sorts the controller's writes by what they were.
type writeCount struct {
	jobPatches, statusWrites, events, other int
	perResize                               float64
}

func countWrites(events []auditEvent, keep func(auditEvent) bool) writeCount {
	var c writeCount
	for _, e := range events {
		if e.User.Username != controllerUser || !keep(e) {
			continue
		}
		switch {
		case e.ObjectRef.Resource == "jobs" && e.Verb == "patch":
			c.jobPatches++
		case e.ObjectRef.Resource == "miniclusters" && e.ObjectRef.Subresource == "status":
			c.statusWrites++
		case e.ObjectRef.Resource == "events":
			c.events++
		default:
			c.other++
		}
	}
	return c
}

// resizeLatencies pairs each user write of a MiniCluster's spec with the
// controller's next Job patch for it, and returns the time between their
// completions.
func resizeLatencies(events []auditEvent, names []string) []time.Duration {
	wanted := map[string]bool{}
	for _, name := range names {
		wanted[name] = true
	}
	pending := map[string]time.Time{}
	var latencies []time.Duration
	for _, e := range events {
		name := e.ObjectRef.Name
		if !wanted[name] {
			continue
		}
		switch {
		case e.User.Username != controllerUser && e.ObjectRef.Resource == "miniclusters" && e.ObjectRef.Subresource != "status":
			if _, open := pending[name]; !open {
				pending[name] = e.StageTimestamp
			}
		case e.User.Username == controllerUser && e.ObjectRef.Resource == "jobs" && e.Verb == "patch":
			if start, open := pending[name]; open {
				latencies = append(latencies, e.StageTimestamp.Sub(start))
				delete(pending, name)
			}
		}
	}
	return latencies
}
