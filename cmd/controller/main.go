// Command controller runs the elasticflux MiniCluster controller.
//
//	controller [flags]                  run the controller
//	controller render -f FILE [flags]   print what it would create for a MiniCluster
//	controller --version                print the version and exit
//
// The controller serves Prometheus metrics on /metrics and the probes
// /healthz and /readyz, and stops cleanly on SIGTERM or SIGINT: workers
// stop, then the leader Lease is released, then the HTTP servers close. A
// second signal ends the process at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/elasticflux/elasticflux/pkg/version"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	// exitUsage is for a command line the program cannot run with.
	exitUsage = 2
)

// errUsage marks an error in the command line rather than one met while
// running.
var errUsage = errors.New("usage")

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runMain is main with its inputs and outputs passed in, and the exit code
// returned, so tests can drive the command line.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "render" {
		return runRender(args[1:], stdin, stdout, stderr)
	}

	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  controller [flags]                 run the MiniCluster controller\n  controller render -f FILE [flags]  print the objects it would create for a MiniCluster\n\nFlags:\n")
		fs.PrintDefaults()
	}
	klog.InitFlags(fs)
	opts := defaultOptions()
	opts.addFlags(fs)
	showVersion := fs.Bool("version", false, "Print the version and exit.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("controller"))
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q: the only subcommand is render\n", fs.Arg(0))
		return exitUsage
	}
	if err := opts.validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	verbosity, err := klogVerbosity(fs)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	setUpLogging(opts.loggingFormat, verbosity, stderr)
	defer klog.Flush()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal, the default handling comes back, so a second
	// one kills a shutdown that hangs.
	context.AfterFunc(ctx, stop)
	logger := klog.Background()
	ctx = klog.NewContext(ctx, logger)

	logger.Info("Starting", "version", version.Version(), "workers", opts.workers, "namespace", opts.namespace, "leaderElect", opts.leaderElect)
	if err := run(ctx, opts); err != nil {
		logger.Error(err, "Controller stopped")
		return exitFailure
	}
	logger.Info("Controller stopped")
	return exitOK
}
