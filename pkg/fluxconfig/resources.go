package fluxconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// resourceSet is R, an RFC 20 resource set, version 1.
type resourceSet struct {
	Version   int               `json:"version"`
	Execution resourceExecution `json:"execution"`
}

type resourceExecution struct {
	RLite      []resourceRanks `json:"R_lite"`
	Nodelist   []string        `json:"nodelist"`
	Starttime  float64         `json:"starttime"`
	Expiration float64         `json:"expiration"`
}

// resourceRanks gives a set of broker ranks (an RFC 22 idset) the same
// children: core and gpu ids, also idsets.
type resourceRanks struct {
	Rank     string            `json:"rank"`
	Children map[string]string `json:"children"`
}

// RenderR renders R, the RFC 20 (version 1) resource set Flux schedules on:
// one rank per hostname, each with coresPerBroker cores (ids 0..n-1) and
// gpusPerBroker GPUs (no gpu entry when zero), and the hostnames as the
// nodelist. Flux stops a broker whose R names other hosts than its bootstrap
// list, so pass every broker up to maxSize (BrokerHostnames), not only the
// ones running now. A starttime and expiration of 0 mean no time limit.
func RenderR(hostnames []string, coresPerBroker, gpusPerBroker int) ([]byte, error) {
	if len(hostnames) == 0 {
		return nil, errors.New("R needs at least one host")
	}
	if coresPerBroker < 1 {
		return nil, fmt.Errorf("cores per broker is %d, it must be at least 1", coresPerBroker)
	}
	if gpusPerBroker < 0 {
		return nil, fmt.Errorf("gpus per broker is %d, it must not be negative", gpusPerBroker)
	}
	nodelist, err := EncodeHostlist(hostnames)
	if err != nil {
		return nil, fmt.Errorf("R nodelist: %w", err)
	}
	children := map[string]string{"core": idRangeSet(coresPerBroker)}
	if gpusPerBroker > 0 {
		children["gpu"] = idRangeSet(gpusPerBroker)
	}
	r := resourceSet{
		Version: 1,
		Execution: resourceExecution{
			RLite:    []resourceRanks{{Rank: idRangeSet(len(hostnames)), Children: children}},
			Nodelist: []string{nodelist},
		},
	}
	out, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding R: %w", err)
	}
	return append(out, '\n'), nil
}

// idRangeSet is the RFC 22 idset of 0..count-1: "0" or "0-<count-1>".
func idRangeSet(count int) string {
	if count == 1 {
		return "0"
	}
	return "0-" + strconv.Itoa(count-1)
}
