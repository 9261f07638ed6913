package fluxconfig

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// DrainReason is the reason the preStop hook gives when it drains a leaving
// broker. The start script undrains a returning broker only when its drain
// carries this reason, so drains set by an administrator are left alone.
const DrainReason = "elasticflux: scale-down"

// StoppedExitCode is the start script's exit status when Kubernetes stopped
// the broker (128 + SIGTERM, as a shell reports it). The Job's pod failure
// policy tells it apart from a failing command by this code.
const StoppedExitCode = 143

// maxRunDir keeps <rundir>/local-<rank>, the broker's UNIX socket, under
// the socket path limit (108 bytes on Linux, less elsewhere) for any rank
// up to five digits.
const maxRunDir = 90

// fsdPattern is an RFC 23 Flux Standard Duration: a number and an optional
// unit.
var fsdPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)?$`)

// brokerOptionPattern is a broker attribute assignment for -S: a name, '=',
// and any value.
var brokerOptionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*=`)

//go:embed templates/start.sh.tmpl templates/prestop.sh.tmpl
var scriptTemplates embed.FS

var (
	startTemplate   = template.Must(template.ParseFS(scriptTemplates, "templates/start.sh.tmpl"))
	preStopTemplate = template.Must(template.ParseFS(scriptTemplates, "templates/prestop.sh.tmpl"))
)

// ScriptOptions is what the broker start script and the preStop drain script
// are made from. Paths are inside the broker container and must agree with
// the BrokerConfig the broker TOML was rendered from (CurveCertPath, RPath).
type ScriptOptions struct {
	// ConfigPath is the broker TOML file (or a directory of *.toml files)
	// given to flux start -c.
	ConfigPath string
	// CurveCertSource is where the curve certificate Secret is mounted. The
	// script copies it to CurveCertPath with mode 0400 owned by the container
	// user, because Flux refuses a certificate that group or other can read
	// and a Secret volume can be group-readable (fsGroup) or owned by root.
	// Empty means the broker reads CurveCertPath as mounted.
	CurveCertSource string
	// CurveCertPath is where the broker reads the certificate (curve_cert).
	CurveCertPath string
	// RPath is where the broker reads R ([resource] path).
	RPath string
	// RenderedR says R was rendered by RenderR and is mounted at RPath. When
	// false, the script writes RPath itself with
	// `flux R encode --hosts=<Hostlist> --local`, from what the pod sees.
	RenderedR bool
	// Hostlist is the bootstrap hostlist (BrokerHostlist), needed when R is
	// not rendered.
	Hostlist string
	// RunDir is the broker's rundir. The preStop hook and the undrain step
	// talk to the broker through its socket, local://<RunDir>/local-<rank>, so it
	// must be the same path for both scripts, and writable.
	RunDir string
	// MinSize is the broker quorum: how many brokers must be online before
	// rank 0 starts the initial program.
	MinSize int
	// Size is how many brokers a command's job spans (flux submit -N).
	Size int
	// SizeEnv, when set, names an environment variable of the broker
	// container that holds Size instead, so the script does not change
	// when the cluster is resized; Size is then ignored.
	SizeEnv string
	// ConnectTimeout is tbon.connect_timeout, an RFC 23 duration such as
	// "5s"; empty keeps Flux's default.
	ConnectTimeout string
	// LogLevel is log-stderr-level, 1 (alert) to 7 (debug); 0 keeps Flux's
	// default (3, errors).
	LogLevel int
	// Interactive keeps the instance up with no initial program
	// (broker.rc2_none). It excludes Command.
	Interactive bool
	// Command is what rank 0 runs; the instance ends when it ends.
	Command []string
	// Tasks is how many tasks the command's job runs (flux submit -n);
	// zero leaves it to flux submit. Not used in launcher mode.
	Tasks int
	// Launcher runs Command itself as the instance's initial program, for
	// programs that launch their own Flux jobs; otherwise rank 0 runs
	// `flux submit -N <Size> [-n <Tasks>] --watch <Command...>`.
	Launcher bool
	// ArchivePath, when set, is where rank 0 saves the instance when it shuts
	// down, and what it restores from at start if the file exists. It must
	// be on a volume that outlives the pod, and its extension picks the
	// format (flux-dump(1)): .tar, .tgz, .tar.gz, ...
	ArchivePath string
	// DrainTimeoutSeconds is how long the preStop hook waits for jobs on a
	// leaving broker to finish. The pod's terminationGracePeriodSeconds must
	// be longer, or Kubernetes cuts the wait short.
	DrainTimeoutSeconds int
	// BrokerOptions are extra broker attributes, "name=value" each, given as
	// -S options after the ones the script sets, so they take precedence.
	BrokerOptions []string
}

// startScriptView holds what the start script template prints, every string
// already shell-quoted, so the template itself never sees raw input.
type startScriptView struct {
	ConfigPath      string
	CurveCertSource string
	CurveCertDir    string
	CurveCertPath   string
	EncodeR         bool
	RDir            string
	RPath           string
	RPartial        string
	HostsArg        string
	RunDir          string
	FluxURIPrefix   string
	DrainReason     string
	UndrainReason   string
	BrokerOptions   []string
	ArchivePath     string
	PartialArchive  string
	RestoreOption   string
	DumpOption      string
	Interactive     bool
	InitialProgram  []string
	StoppedExitCode int
}

// preStopScriptView holds what the preStop template prints, shell-quoted.
type preStopScriptView struct {
	FluxURIPrefix string
	DrainReason   string
	DrainTimeout  int
}

// RenderStartScript renders the POSIX sh script every broker container runs.
// It reads its rank from JOB_COMPLETION_INDEX, copies the curve certificate
// to a private file, writes R unless it was rendered, and starts the broker
// with `flux start -c <ConfigPath> -S...`:
//
//   - every rank: -Srundir, -Sbroker.quorum=<MinSize>, and when set
//     -Stbon.connect_timeout, -Slog-stderr-level, then BrokerOptions;
//   - rank 0: -Scontent.restore=<archive> when the archive exists and
//     -Scontent.dump to save it on shutdown; then -Sbroker.rc2_none
//     (Interactive) or the initial program (Command, see Launcher);
//   - other ranks: no initial program; they join, and undrain themselves if
//     the preStop hook drained them before.
//
// The script exits with the broker's status, so the pod of rank 0 succeeds
// or fails with the command, except when it was stopped by SIGTERM or
// SIGINT: then it exits StoppedExitCode, so Kubernetes never takes a broker
// it stopped for one that finished.
func RenderStartScript(options ScriptOptions) (string, error) {
	if err := options.validateStart(); err != nil {
		return "", err
	}
	view := startScriptView{
		ConfigPath:      shellQuote(options.ConfigPath),
		CurveCertPath:   shellQuote(options.CurveCertPath),
		EncodeR:         !options.RenderedR,
		RunDir:          shellQuote(options.RunDir),
		FluxURIPrefix:   shellQuote(LocalURI(options.RunDir, "")),
		DrainReason:     shellQuote(DrainReason),
		UndrainReason:   shellQuote("elasticflux: rejoined"),
		Interactive:     options.Interactive,
		StoppedExitCode: StoppedExitCode,
	}
	if options.CurveCertSource != "" {
		view.CurveCertSource = shellQuote(options.CurveCertSource)
		view.CurveCertDir = shellQuote(path.Dir(options.CurveCertPath))
	}
	if view.EncodeR {
		view.RDir = shellQuote(path.Dir(options.RPath))
		view.RPath = shellQuote(options.RPath)
		view.RPartial = shellQuote(options.RPath + ".partial")
		view.HostsArg = shellQuote("--hosts=" + options.Hostlist)
	}
	brokerOptions := []string{
		"rundir=" + options.RunDir,
		"broker.quorum=" + strconv.Itoa(options.MinSize),
	}
	if options.ConnectTimeout != "" {
		brokerOptions = append(brokerOptions, "tbon.connect_timeout="+options.ConnectTimeout)
	}
	if options.LogLevel > 0 {
		brokerOptions = append(brokerOptions, "log-stderr-level="+strconv.Itoa(options.LogLevel))
	}
	brokerOptions = append(brokerOptions, options.BrokerOptions...)
	for _, option := range brokerOptions {
		view.BrokerOptions = append(view.BrokerOptions, shellQuote("-S"+option))
	}
	if options.ArchivePath != "" {
		partial := partialArchivePath(options.ArchivePath)
		view.ArchivePath = shellQuote(options.ArchivePath)
		view.PartialArchive = shellQuote(partial)
		view.RestoreOption = shellQuote("-Scontent.restore=" + options.ArchivePath)
		view.DumpOption = shellQuote("-Scontent.dump=" + partial)
	}
	for _, word := range options.initialProgram() {
		if word == sizeWord {
			// Expanded by the shell, inside double quotes: the name was
			// checked to be a plain variable name.
			view.InitialProgram = append(view.InitialProgram, `"${`+options.SizeEnv+`}"`)
			continue
		}
		view.InitialProgram = append(view.InitialProgram, shellQuote(word))
	}
	var script bytes.Buffer
	if err := startTemplate.Execute(&script, view); err != nil {
		return "", fmt.Errorf("rendering the start script: %w", err)
	}
	return script.String(), nil
}

// RenderPreStopScript renders the POSIX sh script for the broker container's
// preStop hook. On any rank but 0 it drains the broker's rank
// (`flux resource drain --update <rank> "elasticflux: scale-down"`), then
// polls every two seconds, up to DrainTimeoutSeconds, until no job runs there
// (the rank no longer shows as "draining" in flux resource status). It never
// fails: when Flux cannot be reached it gives up and lets the pod stop. Only
// RunDir and DrainTimeoutSeconds of options are used.
func RenderPreStopScript(options ScriptOptions) (string, error) {
	var errs []error
	if err := validateRunDir(options.RunDir); err != nil {
		errs = append(errs, err)
	}
	if options.DrainTimeoutSeconds < 0 {
		errs = append(errs, fmt.Errorf("drain timeout %d is negative", options.DrainTimeoutSeconds))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	view := preStopScriptView{
		FluxURIPrefix: shellQuote(LocalURI(options.RunDir, "")),
		DrainReason:   shellQuote(DrainReason),
		DrainTimeout:  options.DrainTimeoutSeconds,
	}
	var script bytes.Buffer
	if err := preStopTemplate.Execute(&script, view); err != nil {
		return "", fmt.Errorf("rendering the preStop script: %w", err)
	}
	return script.String(), nil
}

// sizeWord stands for the size in initialProgram when it comes from SizeEnv;
// it cannot collide with a real argument, which never holds a NUL.
const sizeWord = "\x00size"

// envNamePattern is a portable environment variable name.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// initialProgram is the command line rank 0's broker runs as its initial
// program, nil when interactive.
func (o ScriptOptions) initialProgram() []string {
	switch {
	case o.Interactive:
		return nil
	case o.Launcher:
		return o.Command
	}
	size := strconv.Itoa(o.Size)
	if o.SizeEnv != "" {
		size = sizeWord
	}
	program := []string{"flux", "submit", "-N", size}
	if o.Tasks > 0 {
		program = append(program, "-n", strconv.Itoa(o.Tasks))
	}
	program = append(program, "--watch")
	return append(program, o.Command...)
}

func (o ScriptOptions) validateStart() error {
	var errs []error
	check := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	check("config path", validateAbsolutePath(o.ConfigPath))
	check("curve certificate path", validateAbsolutePath(o.CurveCertPath))
	if o.CurveCertSource != "" {
		check("curve certificate source", validateAbsolutePath(o.CurveCertSource))
		if o.CurveCertSource == o.CurveCertPath {
			errs = append(errs, errors.New("curve certificate source and path are the same file: leave the source empty to use the mounted file"))
		}
	}
	check("R path", validateAbsolutePath(o.RPath))
	if !o.RenderedR {
		if hosts, err := DecodeHostlist(o.Hostlist); err != nil {
			check("hostlist", err)
		} else if len(hosts) == 0 {
			errs = append(errs, errors.New("hostlist is empty: R cannot be written without the bootstrap hosts"))
		}
	}
	check("rundir", validateRunDir(o.RunDir))
	if o.SizeEnv != "" {
		if !envNamePattern.MatchString(o.SizeEnv) {
			errs = append(errs, fmt.Errorf("size variable %q is not an environment variable name", o.SizeEnv))
		}
		if o.MinSize < 1 {
			errs = append(errs, fmt.Errorf("minSize (%d) must be at least 1", o.MinSize))
		}
	} else if o.MinSize < 1 || o.Size < o.MinSize {
		errs = append(errs, fmt.Errorf("sizes must satisfy 1 <= minSize (%d) <= size (%d)", o.MinSize, o.Size))
	}
	if o.ConnectTimeout != "" && !fsdPattern.MatchString(o.ConnectTimeout) {
		errs = append(errs, fmt.Errorf("connect timeout %q is not a duration such as 5s, 1.5m or 100ms", o.ConnectTimeout))
	}
	if o.LogLevel < 0 || o.LogLevel > 7 {
		errs = append(errs, fmt.Errorf("log level %d is not between 0 and 7", o.LogLevel))
	}
	errs = append(errs, o.validateProgram()...)
	if o.ArchivePath != "" {
		check("archive path", validateAbsolutePath(o.ArchivePath))
	}
	if o.DrainTimeoutSeconds < 0 {
		errs = append(errs, fmt.Errorf("drain timeout %d is negative", o.DrainTimeoutSeconds))
	}
	for _, option := range o.BrokerOptions {
		if !brokerOptionPattern.MatchString(option) || strings.ContainsRune(option, 0) {
			errs = append(errs, fmt.Errorf("broker option %q is not name=value", option))
		}
	}
	return errors.Join(errs...)
}

// validateProgram checks what rank 0 runs: either nothing (interactive) or
// a command, and options that fit the mode.
func (o ScriptOptions) validateProgram() []error {
	var errs []error
	switch {
	case o.Interactive && len(o.Command) > 0:
		errs = append(errs, errors.New("an interactive instance runs no command (broker.rc2_none cannot go with an initial program)"))
	case !o.Interactive && len(o.Command) == 0:
		errs = append(errs, errors.New("no command: give one, or make the instance interactive"))
	}
	if o.Interactive && o.Launcher {
		errs = append(errs, errors.New("launcher mode needs a command, an interactive instance has none"))
	}
	if o.Tasks < 0 {
		errs = append(errs, fmt.Errorf("tasks %d is negative", o.Tasks))
	}
	if o.Tasks > 0 && (o.Launcher || o.Interactive) {
		errs = append(errs, errors.New("tasks apply only to a command submitted as a job, not to launcher mode or an interactive instance"))
	}
	if len(o.Command) > 0 && (o.Command[0] == "" || strings.HasPrefix(o.Command[0], "-")) {
		errs = append(errs, fmt.Errorf("command %q must start with a program name", o.Command[0]))
	}
	for _, word := range o.Command {
		if strings.ContainsRune(word, 0) {
			errs = append(errs, errors.New("command has a NUL byte, which no program argument can hold"))
			break
		}
	}
	return errs
}

func validateRunDir(runDir string) error {
	if err := validateAbsolutePath(runDir); err != nil {
		return fmt.Errorf("rundir: %w", err)
	}
	if len(runDir) > maxRunDir {
		return fmt.Errorf("rundir %q is longer than %d characters, too long for the broker's socket path", runDir, maxRunDir)
	}
	return nil
}

// LocalURI is the URI of the socket of the broker of the given rank
// started with -Srundir=runDir: Flux names it local-<rank>. An empty rank
// gives the prefix a script completes with the rank it reads at run time.
func LocalURI(runDir, rank string) string {
	return "local://" + runDir + "/local-" + rank
}

// partialArchivePath is where rank 0 dumps before the dump replaces the
// archive: a hidden file next to it whose name keeps the archive's
// extension, which tells flux dump the format.
func partialArchivePath(archivePath string) string {
	dir, file := path.Split(archivePath)
	return dir + ".partial-" + file
}
