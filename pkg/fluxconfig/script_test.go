package fluxconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleScriptOptions lays a broker container out the way the controller is
// expected to: the ConfigMap at /etc/elasticflux, the Secret at
// /etc/elasticflux-curve, and a writable emptyDir at /run/elasticflux.
func sampleScriptOptions() ScriptOptions {
	return ScriptOptions{
		ConfigPath:          "/etc/elasticflux/broker.toml",
		CurveCertSource:     "/etc/elasticflux-curve/curve.cert",
		CurveCertPath:       "/run/elasticflux/curve.cert",
		RPath:               "/run/elasticflux/R",
		Hostlist:            "flux-sample-[0-7]",
		RunDir:              "/run/elasticflux/broker",
		MinSize:             2,
		Size:                4,
		ConnectTimeout:      "5s",
		LogLevel:            6,
		DrainTimeoutSeconds: 120,
	}
}

// startScriptCases are the option sets whose start scripts are kept as
// golden files and checked by sh -n and shellcheck.
var startScriptCases = map[string]func(*ScriptOptions){
	"interactive": func(o *ScriptOptions) {
		o.Interactive = true
	},
	"command": func(o *ScriptOptions) {
		o.Command = []string{"mpirun", "-x", "OMP_NUM_THREADS=2", "./lammps", "-in", "in.reaxc.hns"}
		o.Tasks = 8
	},
	"launcher": func(o *ScriptOptions) {
		o.Command = []string{"python3", "-c", "import flux; print('it''s up')"}
		o.Launcher = true
	},
	"archive": func(o *ScriptOptions) {
		o.Interactive = true
		o.ArchivePath = "/data/flux archive/state.tar.gz"
	},
	"rendered R": func(o *ScriptOptions) {
		o.Command = []string{"hostname"}
		o.RenderedR = true
		o.RPath = "/etc/elasticflux/R"
		o.Hostlist = ""
	},
	"minimal": func(o *ScriptOptions) {
		o.Command = []string{"sleep", "60"}
		o.CurveCertSource = ""
		o.ConnectTimeout = ""
		o.LogLevel = 0
	},
	"nasty input": func(o *ScriptOptions) {
		o.Command = []string{"sh", "-c", "echo '$(id)' \"`id`\"; rm -rf / #", "--", "$HOME", "a b"}
		o.ArchivePath = "/data/it's $(here)/dump.tar"
		o.BrokerOptions = []string{"log-filename=/data/$(id)/broker log", "tbon.topo=kary:4"}
	},
}

func TestRenderStartScriptGolden(t *testing.T) {
	for name, mutate := range startScriptCases {
		t.Run(name, func(t *testing.T) {
			options := sampleScriptOptions()
			mutate(&options)
			script, err := RenderStartScript(options)
			require.NoError(t, err)
			assertGolden(t, "start-"+sanitizeGoldenName(name)+".sh", []byte(script))
			checkShellSyntax(t, script)
		})
	}
}

func TestRenderPreStopScriptGolden(t *testing.T) {
	tests := map[string]int{
		"prestop":            120,
		"prestop no timeout": 0,
	}
	for name, timeout := range tests {
		t.Run(name, func(t *testing.T) {
			options := sampleScriptOptions()
			options.DrainTimeoutSeconds = timeout
			script, err := RenderPreStopScript(options)
			require.NoError(t, err)
			assertGolden(t, sanitizeGoldenName(name)+".sh", []byte(script))
			checkShellSyntax(t, script)
		})
	}
}

func TestRenderStartScriptOptions(t *testing.T) {
	tests := map[string]struct {
		mutate      func(*ScriptOptions)
		contains    []string
		notContains []string
	}{
		"quorum, timeout and log level": {
			mutate:   func(o *ScriptOptions) { o.Interactive = true },
			contains: []string{"-Sbroker.quorum=2", "-Stbon.connect_timeout=5s", "-Slog-stderr-level=6", "-Srundir=/run/elasticflux/broker"},
		},
		"defaults left to Flux": {
			mutate:      func(o *ScriptOptions) { o.Interactive = true; o.ConnectTimeout = ""; o.LogLevel = 0 },
			notContains: []string{"connect_timeout", "log-stderr-level"},
		},
		"interactive": {
			mutate:      func(o *ScriptOptions) { o.Interactive = true },
			contains:    []string{`set -- "$@" -Sbroker.rc2_none`},
			notContains: []string{"flux submit"},
		},
		"submit with tasks": {
			mutate:      func(o *ScriptOptions) { o.Command = []string{"hostname"}; o.Tasks = 3 },
			contains:    []string{`set -- "$@" flux submit -N 4 -n 3 --watch hostname`},
			notContains: []string{"rc2_none"},
		},
		"submit without tasks": {
			mutate:   func(o *ScriptOptions) { o.Command = []string{"hostname"} },
			contains: []string{`set -- "$@" flux submit -N 4 --watch hostname`},
		},
		"launcher": {
			mutate:      func(o *ScriptOptions) { o.Command = []string{"my-launcher", "--jobs=10"}; o.Launcher = true },
			contains:    []string{`set -- "$@" my-launcher --jobs=10`},
			notContains: []string{"flux submit", "rc2_none"},
		},
		"R encoded by the script": {
			mutate:   func(o *ScriptOptions) { o.Interactive = true },
			contains: []string{"flux R encode '--hosts=flux-sample-[0-7]' --local >/run/elasticflux/R.partial"},
		},
		"R rendered": {
			mutate:      func(o *ScriptOptions) { o.Interactive = true; o.RenderedR = true },
			notContains: []string{"flux R encode"},
		},
		"archive": {
			mutate: func(o *ScriptOptions) { o.Interactive = true; o.ArchivePath = "/data/state.tgz" },
			contains: []string{
				"-Scontent.restore=/data/state.tgz",
				"-Scontent.dump=/data/.partial-state.tgz",
				"mv -f /data/.partial-state.tgz /data/state.tgz",
			},
		},
		"no archive": {
			mutate:      func(o *ScriptOptions) { o.Interactive = true },
			notContains: []string{"content.restore", "content.dump"},
		},
		"certificate copied": {
			mutate:   func(o *ScriptOptions) { o.Interactive = true },
			contains: []string{"cp /etc/elasticflux-curve/curve.cert /run/elasticflux/curve.cert", "chmod 0400 /run/elasticflux/curve.cert", "umask 077"},
		},
		"certificate used in place": {
			mutate:      func(o *ScriptOptions) { o.Interactive = true; o.CurveCertSource = "" },
			notContains: []string{"cp ", "chmod"},
		},
		"extra broker options come last and quoted": {
			mutate: func(o *ScriptOptions) {
				o.Interactive = true
				o.BrokerOptions = []string{"tbon.topo=kary:2", "log-filename=/a b"}
			},
			contains: []string{"set -- \"$@\" -Stbon.topo=kary:2\nset -- \"$@\" '-Slog-filename=/a b'\nif"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			options := sampleScriptOptions()
			tc.mutate(&options)
			script, err := RenderStartScript(options)
			require.NoError(t, err)
			for _, want := range tc.contains {
				assert.Contains(t, script, want)
			}
			for _, unwanted := range tc.notContains {
				assert.NotContains(t, script, unwanted)
			}
		})
	}
}

func TestRenderStartScriptRejects(t *testing.T) {
	tests := map[string]struct {
		mutate  func(*ScriptOptions)
		wantErr string
	}{
		"nothing to run":            {func(o *ScriptOptions) {}, "no command"},
		"interactive with command":  {func(o *ScriptOptions) { o.Interactive = true; o.Command = []string{"x"} }, "rc2_none"},
		"interactive launcher":      {func(o *ScriptOptions) { o.Interactive = true; o.Launcher = true }, "launcher"},
		"tasks in launcher mode":    {func(o *ScriptOptions) { o.Command = []string{"x"}; o.Launcher = true; o.Tasks = 2 }, "tasks"},
		"negative tasks":            {func(o *ScriptOptions) { o.Command = []string{"x"}; o.Tasks = -1 }, "tasks"},
		"command starts with dash":  {func(o *ScriptOptions) { o.Command = []string{"-x"} }, "program name"},
		"empty program":             {func(o *ScriptOptions) { o.Command = []string{""} }, "program name"},
		"NUL in command":            {func(o *ScriptOptions) { o.Command = []string{"echo", "a\x00b"} }, "NUL"},
		"no config":                 {func(o *ScriptOptions) { o.Interactive = true; o.ConfigPath = "" }, "config path"},
		"relative config":           {func(o *ScriptOptions) { o.Interactive = true; o.ConfigPath = "broker.toml" }, "config path"},
		"no curve path":             {func(o *ScriptOptions) { o.Interactive = true; o.CurveCertPath = "" }, "curve certificate path"},
		"source is the destination": {func(o *ScriptOptions) { o.Interactive = true; o.CurveCertSource = o.CurveCertPath }, "same file"},
		"no R path":                 {func(o *ScriptOptions) { o.Interactive = true; o.RPath = "" }, "R path"},
		"no hostlist for R":         {func(o *ScriptOptions) { o.Interactive = true; o.Hostlist = "" }, "hostlist"},
		"bad hostlist":              {func(o *ScriptOptions) { o.Interactive = true; o.Hostlist = "a[1-" }, "hostlist"},
		"no rundir":                 {func(o *ScriptOptions) { o.Interactive = true; o.RunDir = "" }, "rundir"},
		"rundir too long":           {func(o *ScriptOptions) { o.Interactive = true; o.RunDir = "/" + strings.Repeat("r", 100) }, "socket"},
		"zero min size":             {func(o *ScriptOptions) { o.Interactive = true; o.MinSize = 0 }, "minSize"},
		"size below min size":       {func(o *ScriptOptions) { o.Interactive = true; o.Size = 1 }, "minSize"},
		"bad connect timeout":       {func(o *ScriptOptions) { o.Interactive = true; o.ConnectTimeout = "5 seconds" }, "connect timeout"},
		"log level too high":        {func(o *ScriptOptions) { o.Interactive = true; o.LogLevel = 8 }, "log level"},
		"relative archive":          {func(o *ScriptOptions) { o.Interactive = true; o.ArchivePath = "state.tar" }, "archive path"},
		"negative drain timeout":    {func(o *ScriptOptions) { o.Interactive = true; o.DrainTimeoutSeconds = -1 }, "drain timeout"},
		"broker option not a pair":  {func(o *ScriptOptions) { o.Interactive = true; o.BrokerOptions = []string{"broker.rc2_none"} }, "name=value"},
		"broker option injection":   {func(o *ScriptOptions) { o.Interactive = true; o.BrokerOptions = []string{"; rm -rf /=x"} }, "name=value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			options := sampleScriptOptions()
			tc.mutate(&options)
			script, err := RenderStartScript(options)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.Empty(t, script)
		})
	}
}

func TestRenderPreStopScriptRejects(t *testing.T) {
	options := sampleScriptOptions()
	options.RunDir = "run"
	_, err := RenderPreStopScript(options)
	assert.ErrorContains(t, err, "rundir")

	options = sampleScriptOptions()
	options.DrainTimeoutSeconds = -5
	_, err = RenderPreStopScript(options)
	assert.ErrorContains(t, err, "drain timeout")
}

// checkShellSyntax runs sh -n on script, and shellcheck. Without
// shellcheck that check is skipped on a developer's machine, and fails
// under CI=true, where a missing tool must not pass for a clean script.
func checkShellSyntax(t *testing.T, script string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "script.sh")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
	out, err := exec.Command("sh", "-n", file).CombinedOutput()
	require.NoError(t, err, "sh -n: %s", out)
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed, and CI=true needs it: apt-get install shellcheck")
		}
		t.Log("shellcheck is not installed: skipping that check (CI=true makes this a failure)")
		return
	}
	out, err = exec.Command(shellcheck, "--shell=sh", "--severity=style", file).CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)
}

// fakeFlux stands in for the flux command: it writes each call to a log,
// one argument per line and a blank line after each call, and acts just
// enough like Flux for the scripts to run.
const fakeFlux = `#!/bin/sh
# One write per call: the start script's background undrain check calls
# flux while the broker runs, and interleaved lines would mix two calls.
record=
for arg in "$@"; do record="$record$arg
"; done
printf '%sFLUX_URI=%s\n\n' "$record" "${FLUX_URI:-}" >>"$FAKE_FLUX_LOG"
case "$1 $2" in
"R encode")
	if [ -n "${FAKE_SLOW_ENCODE:-}" ]; then
		echo ready >"$FAKE_FLUX_LOG.encoding"
		sleep 1
	fi
	echo '{"version":1}'
	;;
"resource drain")
	if [ "$3" = --no-header ]; then
		if [ -n "${FAKE_DRAIN_REASON:-}" ]; then
			printf '%s.25 %s\n' "${FAKE_DRAIN_TIME:-1000}" "$FAKE_DRAIN_REASON"
		fi
	else
		exit "${FAKE_DRAIN_STATUS:-0}"
	fi
	;;
"resource status")
	polls=$(cat "$FAKE_FLUX_LOG.polls" 2>/dev/null || echo 0)
	echo $((polls + 1)) >"$FAKE_FLUX_LOG.polls"
	if [ "$polls" -lt "${FAKE_BUSY_POLLS:-0}" ]; then echo 3; fi
	;;
esac
if [ "$1" = uptime ]; then
	# The broker joins after FAKE_JOIN_POLLS looks, and prints what
	# flux uptime prints.
	polls=$(cat "$FAKE_FLUX_LOG.uptime" 2>/dev/null || echo 0)
	echo $((polls + 1)) >"$FAKE_FLUX_LOG.uptime"
	state=run
	if [ "$polls" -lt "${FAKE_JOIN_POLLS:-0}" ]; then state=join; fi
	echo " 17:04:11 $state 3.1s,  owner flux,  depth 0,  size 4,  2 offline"
fi
if [ "$1" = start ]; then
	for arg in "$@"; do
		case $arg in
		-Scontent.dump=*) printf 'dumped\n' >"${arg#-Scontent.dump=}" ;;
		esac
	done
	case ${FAKE_START:-} in
	wait-for-term)
		trap 'echo terminated >>"$FAKE_FLUX_LOG.term"; exit 0' TERM
		echo ready >"$FAKE_FLUX_LOG.ready"
		i=0
		while [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		exit 9
		;;
	wait-for-undrain)
		i=0
		while [ $i -lt 100 ] && ! grep -q '^undrain$' "$FAKE_FLUX_LOG"; do sleep 0.1; i=$((i + 1)); done
		;;
	esac
	exit "${FAKE_START_STATUS:-0}"
fi
`

// scriptSandbox is a short temporary directory tree (rundir paths must stay
// short) holding the fake flux, a curve certificate "Secret" and the paths
// the scripts use.
type scriptSandbox struct {
	dir     string
	log     string
	options ScriptOptions
}

func newScriptSandbox(t *testing.T) *scriptSandbox {
	t.Helper()
	dir, err := os.MkdirTemp("", "ef")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for _, sub := range []string{"bin", "secret", "etc", "data"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "flux"), []byte(fakeFlux), 0o755))
	// Group- and world-readable, as a Secret volume with fsGroup can be.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret", "curve.cert"), []byte("certificate\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc", "broker.toml"), []byte("\n"), 0o644))
	return &scriptSandbox{
		dir: dir,
		log: filepath.Join(dir, "flux.log"),
		options: ScriptOptions{
			ConfigPath:          filepath.Join(dir, "etc", "broker.toml"),
			CurveCertSource:     filepath.Join(dir, "secret", "curve.cert"),
			CurveCertPath:       filepath.Join(dir, "run", "curve.cert"),
			RPath:               filepath.Join(dir, "run", "R"),
			Hostlist:            "flux-sample-[0-3]",
			RunDir:              filepath.Join(dir, "run", "broker"),
			MinSize:             1,
			Size:                2,
			DrainTimeoutSeconds: 10,
		},
	}
}

// command prepares script to run under sh with the fake flux first on PATH.
func (s *scriptSandbox) command(t *testing.T, ctx context.Context, script string, env ...string) *exec.Cmd {
	t.Helper()
	file := filepath.Join(s.dir, "script.sh")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o755))
	cmd := exec.CommandContext(ctx, "sh", file)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(s.dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_FLUX_LOG="+s.log,
	)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// calls returns the fake flux calls, each as its arguments.
func (s *scriptSandbox) calls(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(s.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var calls [][]string
	for call := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n\n"), "\n\n") {
		if call != "" {
			calls = append(calls, strings.Split(call, "\n"))
		}
	}
	return calls
}

// call returns the first fake flux call whose arguments start with prefix.
func (s *scriptSandbox) call(t *testing.T, prefix ...string) []string {
	t.Helper()
	for _, call := range s.calls(t) {
		if len(call) >= len(prefix) && strings.Join(call[:len(prefix)], " ") == strings.Join(prefix, " ") {
			return call
		}
	}
	return nil
}

// counts returns how often flux was called with each first two arguments.
func (s *scriptSandbox) counts(t *testing.T) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, call := range s.calls(t) {
		key := call[0]
		if len(call) > 2 && !strings.HasPrefix(call[1], "-") && !strings.HasPrefix(call[1], "FLUX_URI=") {
			key += " " + call[1]
		}
		counts[key]++
	}
	return counts
}

func TestStartScriptRunsRankZero(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Command = []string{"sh", "-c", "echo '$(id)'; exit 3", "a b"}
	options.Tasks = 2
	options.ConnectTimeout = "5s"
	options.LogLevel = 7
	options.BrokerOptions = []string{"tbon.topo=kary:2"}
	script, err := RenderStartScript(options)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The pod's FLUX_URI (for kubectl exec) must not reach the broker.
	out, err := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=0", "FAKE_START_STATUS=3", "FLUX_URI=local:///pod/env").CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "output: %s", out)
	assert.Equal(t, 3, exitErr.ExitCode(), "the script exits with the broker's status")

	start := sandbox.call(t, "start")
	require.NotNil(t, start, "flux start was not run")
	assert.Equal(t, []string{
		"start", "-c", options.ConfigPath,
		"-Srundir=" + options.RunDir,
		"-Sbroker.quorum=1",
		"-Stbon.connect_timeout=5s",
		"-Slog-stderr-level=7",
		"-Stbon.topo=kary:2",
		"flux", "submit", "-N", "2", "-n", "2", "--watch",
		"sh", "-c", "echo '$(id)'; exit 3", "a b",
		"FLUX_URI=",
	}, start, "flux start gets every argument intact, and no FLUX_URI")

	encode := sandbox.call(t, "R", "encode")
	assert.Equal(t, []string{"R", "encode", "--hosts=flux-sample-[0-3]", "--local", "FLUX_URI="}, encode)
	r, err := os.ReadFile(options.RPath)
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":1}`, string(r))

	cert, err := os.Stat(options.CurveCertPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o400), cert.Mode().Perm(), "the broker refuses a certificate group or other can read")
	runDir, err := os.Stat(options.RunDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), runDir.Mode().Perm())
	assert.Nil(t, sandbox.call(t, "resource"), "rank 0 neither drains nor undrains")
}

func TestStartScriptSavesAndRestoresTheArchive(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Interactive = true
	options.ArchivePath = filepath.Join(sandbox.dir, "data", "flux state.tar.gz")
	script, err := RenderStartScript(options)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// First start: no archive yet, so nothing to restore; the dump is saved.
	out, err := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=0").CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	start := sandbox.call(t, "start")
	partial := filepath.Join(sandbox.dir, "data", ".partial-flux state.tar.gz")
	assert.Contains(t, start, "-Scontent.dump="+partial)
	assert.Contains(t, start, "-Sbroker.rc2_none")
	assert.NotContains(t, strings.Join(start, "\n"), "content.restore")
	saved, err := os.ReadFile(options.ArchivePath)
	require.NoError(t, err)
	assert.Equal(t, "dumped\n", string(saved))
	assert.NoFileExists(t, partial)

	// Second start: the archive exists, so rank 0 restores it.
	require.NoError(t, os.Remove(sandbox.log))
	out, err = sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=0").CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	assert.Contains(t, sandbox.call(t, "start"), "-Scontent.restore="+options.ArchivePath)
}

func TestStartScriptJoinsAndUndrains(t *testing.T) {
	tests := map[string]struct {
		drainReason string
		drainTime   string
		joinPolls   int
		wantUndrain bool
	}{
		"drained by elasticflux":      {drainReason: DrainReason, wantUndrain: true},
		"joins after a while":         {drainReason: DrainReason, joinPolls: 2, wantUndrain: true},
		"drained by an administrator": {drainReason: "bad memory"},
		"not drained":                 {drainReason: ""},
		// A scale-down of this very broker, begun after it started: its
		// drain must stay, or jobs land on a broker about to leave.
		"drained after it started": {drainReason: DrainReason, drainTime: "4000000000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sandbox := newScriptSandbox(t)
			options := sandbox.options
			options.Command = []string{"hostname"}
			options.ArchivePath = filepath.Join(sandbox.dir, "data", "state.tar")
			script, err := RenderStartScript(options)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			env := []string{"JOB_COMPLETION_INDEX=2", "FAKE_DRAIN_REASON=" + tc.drainReason, fmt.Sprintf("FAKE_JOIN_POLLS=%d", tc.joinPolls)}
			if tc.drainTime != "" {
				env = append(env, "FAKE_DRAIN_TIME="+tc.drainTime)
			}
			if tc.wantUndrain {
				env = append(env, "FAKE_START=wait-for-undrain")
			}
			out, err := sandbox.command(t, ctx, script, env...).CombinedOutput()
			require.NoError(t, err, "output: %s", out)

			start := sandbox.call(t, "start")
			assert.Equal(t, []string{
				"start", "-c", options.ConfigPath,
				"-Srundir=" + options.RunDir,
				"-Sbroker.quorum=1",
				"FLUX_URI=",
			}, start, "other ranks run no initial program and touch no archive")
			// The background check asks for the drain reason once the
			// broker runs, then decides.
			require.Eventually(t, func() bool { return sandbox.call(t, "resource", "drain") != nil }, 20*time.Second, 50*time.Millisecond)
			assert.Equal(t, []string{
				"resource", "drain", "--no-header", "--include=2", "--format={timestamp} {reason}",
				"FLUX_URI=local://" + options.RunDir + "/local-2",
			}, sandbox.call(t, "resource", "drain"), "the rank's own socket")
			if tc.wantUndrain {
				assert.Equal(t, []string{
					"resource", "undrain", "2", "elasticflux: rejoined",
					"FLUX_URI=local://" + options.RunDir + "/local-2",
				}, sandbox.call(t, "resource", "undrain"))
			} else {
				assert.Never(t, func() bool { return sandbox.call(t, "resource", "undrain") != nil }, time.Second, 50*time.Millisecond)
			}
			counts := sandbox.counts(t)
			assert.Equal(t, 1, counts["resource drain"], "the drain is read once")
			assert.Equal(t, tc.joinPolls+1, counts["uptime"], "one look at the broker state per poll until it runs")
		})
	}
}

// TestStartScriptUndrainGivesUp: a broker that ends before it ever runs
// leaves the undrain check with nothing to do, at once.
func TestStartScriptUndrainGivesUp(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Command = []string{"hostname"}
	script, err := RenderStartScript(options)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := time.Now()
	out, err := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=2", "FAKE_JOIN_POLLS=1000", "FAKE_DRAIN_REASON="+DrainReason).CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	assert.Contains(t, string(out), "rank 2 never reached the run state")
	assert.Less(t, time.Since(started), 10*time.Second)
	assert.Nil(t, sandbox.call(t, "resource"), "no drain read, no undrain")
}

func TestStartScriptForwardsSIGTERM(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Interactive = true
	script, err := RenderStartScript(options)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=0", "FAKE_START=wait-for-term")
	var out lockedOutput
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		_, err := os.Stat(sandbox.log + ".ready")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the broker never started")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assertExitCode(t, StoppedExitCode, cmd.Wait(), "the broker exits 0 on SIGTERM, and the script says it was stopped")
	term, err := os.ReadFile(sandbox.log + ".term")
	require.NoError(t, err, "SIGTERM did not reach the broker")
	assert.Equal(t, "terminated\n", string(term))
	assert.Contains(t, out.String(), "stopped by Kubernetes (the broker exited 0)")
}

// TestStartScriptStopsBeforeTheBrokerStarts: as PID 1 the script would
// ignore a SIGTERM it has no handler for, and the pod would sit out its
// whole grace period. A stop while the broker is being prepared ends the
// script without starting it.
func TestStartScriptStopsBeforeTheBrokerStarts(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Interactive = true
	script, err := RenderStartScript(options)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=1", "FAKE_SLOW_ENCODE=1")
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool {
		_, err := os.Stat(sandbox.log + ".encoding")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "R was never encoded")
	stopped := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assertExitCode(t, StoppedExitCode, cmd.Wait(), "stopped before the broker started")
	assert.Less(t, time.Since(stopped), 5*time.Second)
	assert.Nil(t, sandbox.call(t, "start"), "the broker never starts after a stop")
}

// assertExitCode checks that err is an exit with the given code.
func assertExitCode(t *testing.T, want int, err error, msg string) {
	t.Helper()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, msg)
	assert.Equal(t, want, exitErr.ExitCode(), msg)
}

// lockedOutput collects a process's output, safe for its two writers.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func TestStartScriptNeedsTheJobIndex(t *testing.T) {
	for name, index := range map[string]string{"unset": "", "not a number": "JOB_COMPLETION_INDEX=x1", "negative": "JOB_COMPLETION_INDEX=-1"} {
		t.Run(name, func(t *testing.T) {
			sandbox := newScriptSandbox(t)
			options := sandbox.options
			options.Interactive = true
			script, err := RenderStartScript(options)
			require.NoError(t, err)
			var env []string
			if index != "" {
				env = append(env, index)
			}
			cmd := sandbox.command(t, context.Background(), script, env...)
			cmd.Env = withoutEnv(cmd.Env, "JOB_COMPLETION_INDEX")
			cmd.Env = append(cmd.Env, env...)
			out, err := cmd.CombinedOutput()
			require.Error(t, err)
			assert.Contains(t, string(out), "JOB_COMPLETION_INDEX")
			assert.Nil(t, sandbox.call(t, "start"))
		})
	}
}

func TestPreStopScript(t *testing.T) {
	tests := map[string]struct {
		env         []string
		timeout     int
		wantDrain   bool
		wantPolls   int
		wantMessage string
	}{
		"jobs finish": {
			env: []string{"JOB_COMPLETION_INDEX=3", "FAKE_BUSY_POLLS=2"}, timeout: 20,
			wantDrain: true, wantPolls: 3, wantMessage: "no jobs left",
		},
		"no jobs": {
			env: []string{"JOB_COMPLETION_INDEX=3"}, timeout: 20,
			wantDrain: true, wantPolls: 1, wantMessage: "no jobs left",
		},
		"jobs outlast the timeout": {
			env: []string{"JOB_COMPLETION_INDEX=3", "FAKE_BUSY_POLLS=1000"}, timeout: 3,
			wantDrain: true, wantPolls: 2, wantMessage: "stopping anyway",
		},
		"no wait": {
			env: []string{"JOB_COMPLETION_INDEX=3", "FAKE_BUSY_POLLS=1000"}, timeout: 0,
			wantDrain: true,
		},
		"drain fails": {
			env: []string{"JOB_COMPLETION_INDEX=3", "FAKE_DRAIN_STATUS=1"}, timeout: 20,
			wantDrain: true, wantMessage: "could not drain",
		},
		"rank 0 is never drained": {
			env: []string{"JOB_COMPLETION_INDEX=0"}, timeout: 20,
		},
		"no index": {
			env: nil, timeout: 20, wantMessage: "not draining",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sandbox := newScriptSandbox(t)
			options := sandbox.options
			options.DrainTimeoutSeconds = tc.timeout
			script, err := RenderPreStopScript(options)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := sandbox.command(t, ctx, script)
			cmd.Env = append(withoutEnv(cmd.Env, "JOB_COMPLETION_INDEX"), tc.env...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "the preStop hook always exits 0; output: %s", out)
			if tc.wantMessage == "" {
				assert.Empty(t, string(out), "nothing to say")
			} else {
				assert.Contains(t, string(out), tc.wantMessage)
			}

			drain := sandbox.call(t, "resource", "drain")
			if !tc.wantDrain {
				assert.Nil(t, drain)
				return
			}
			assert.Equal(t, []string{
				"resource", "drain", "--update", "3", DrainReason,
				"FLUX_URI=local://" + options.RunDir + "/local-3",
			}, drain)
			polls := 0
			for _, call := range sandbox.calls(t) {
				if len(call) > 1 && call[0] == "resource" && call[1] == "status" {
					polls++
					assert.Contains(t, call, "--include=3")
					assert.Contains(t, call, "--states=draining")
				}
			}
			assert.Equal(t, tc.wantPolls, polls)
		})
	}
}

func withoutEnv(env []string, name string) []string {
	kept := env[:0:0]
	for _, entry := range env {
		if !strings.HasPrefix(entry, name+"=") {
			kept = append(kept, entry)
		}
	}
	return kept
}

// TestStartScriptReadsSizeFromEnv: with SizeEnv the job size comes from the
// pod's environment, so one script serves every size of the cluster.
func TestStartScriptReadsSizeFromEnv(t *testing.T) {
	sandbox := newScriptSandbox(t)
	options := sandbox.options
	options.Command = []string{"hostname"}
	options.Size = 0
	options.SizeEnv = "ELASTICFLUX_SIZE"
	script, err := RenderStartScript(options)
	require.NoError(t, err)
	checkShellSyntax(t, script)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := sandbox.command(t, ctx, script, "JOB_COMPLETION_INDEX=0", "ELASTICFLUX_SIZE=5").CombinedOutput()
	require.NoError(t, err, "output: %s", out)
	start := sandbox.call(t, "start")
	require.NotNil(t, start, "flux start was not run")
	assert.Contains(t, strings.Join(start, " "), "flux submit -N 5 --watch hostname")

	options.SizeEnv = "$(reboot)"
	_, err = RenderStartScript(options)
	require.ErrorContains(t, err, "not an environment variable name")
}
