package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"k8s.io/klog/v2"
)

// setUpLogging routes klog, and every contextual logger taken from it, to
// the chosen format. Text needs nothing: it is klog's own output.
//
// JSON goes through a log/slog handler that klog hands contextual log calls
// to directly. klog then no longer checks -v for those calls, so the
// handler's level has to carry the verbosity: logr's V(n) arrives as slog
// level -n, and a handler at level -v passes exactly V(0) to V(v).
func setUpLogging(format string, verbosity int, out io.Writer) {
	if format != loggingFormatJSON {
		return
	}
	handler := slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.Level(-verbosity)})
	klog.SetSlogLogger(slog.New(handler))
}

// klogVerbosity reads klog's -v from the flag set klog.InitFlags filled.
func klogVerbosity(fs *flag.FlagSet) (int, error) {
	v := fs.Lookup("v")
	if v == nil {
		return 0, nil
	}
	verbosity, err := strconv.Atoi(v.Value.String())
	if err != nil {
		return 0, fmt.Errorf("reading -v: %w", err)
	}
	return verbosity, nil
}
