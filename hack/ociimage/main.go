// Command ociimage builds a container image from local files, with no
// Docker daemon and no registry, and writes it as an archive that
// `ctr images import` reads.
//
//	ociimage -tag localhost/pause:1 -out pause.tar -file bin/pause:/pause:0755 -entrypoint /pause
//	ociimage -tag localhost/elasticflux/flux-core:0.88.0 -out flux.tar -dir rootfs -env PATH=/usr/bin:/bin
//
// Each -dir becomes one layer holding that directory's tree as the image's
// root, owners and modes kept; all -file entries together make one more
// layer. The base is empty: nothing is pulled.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// options are the command line.
type options struct {
	tag        string
	out        string
	platform   string
	dirs       stringList
	files      stringList
	entrypoint stringList
	cmd        stringList
	env        stringList
	user       string
	workdir    string
	// created stamps the image config and every layer entry, so the same
	// inputs give the same image digest.
	created time.Time
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ociimage:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(opts.tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	img, err := buildImage(opts)
	if err != nil {
		return err
	}
	// Written next to the target and renamed, so an interrupted run never
	// leaves a truncated archive that looks finished.
	partial := opts.out + ".partial"
	if err := tarball.WriteToFile(partial, tag, img); err != nil {
		_ = os.Remove(partial)
		return fmt.Errorf("writing %s: %w", opts.out, err)
	}
	if err := os.Rename(partial, opts.out); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%s, %s)\n", opts.out, tag, digest)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	opts := options{platform: "linux/" + runtime.GOARCH}
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.tag, "tag", "", "Image name and tag, e.g. localhost/pause:1 (required).")
	fs.StringVar(&opts.out, "out", "", "Archive to write, in the docker-archive format `ctr images import` reads (required).")
	fs.StringVar(&opts.platform, "platform", opts.platform, "OS/architecture the image is for.")
	fs.Var(&opts.dirs, "dir", "A directory whose tree becomes one layer, rooted at /. Repeatable.")
	fs.Var(&opts.files, "file", "SRC:DST[:MODE] puts the local file SRC at DST in the image, MODE in octal (default: SRC's). Repeatable; all files share one layer.")
	fs.Var(&opts.entrypoint, "entrypoint", "One word of the entrypoint. Repeatable, in order.")
	fs.Var(&opts.cmd, "cmd", "One word of the default command. Repeatable, in order.")
	fs.Var(&opts.env, "env", "KEY=VALUE in the image's environment. Repeatable.")
	fs.StringVar(&opts.user, "user", "", "User (numeric uid[:gid] for an image without /etc/passwd) the image runs as.")
	fs.StringVar(&opts.workdir, "workdir", "", "Working directory.")
	epoch := fs.Int64("created", 0, "Creation time in Unix seconds, for the config and every file (default 0, reproducible).")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	opts.created = time.Unix(*epoch, 0).UTC()
	switch {
	case fs.NArg() > 0:
		return opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case opts.tag == "" || opts.out == "":
		return opts, errors.New("-tag and -out are required")
	case len(opts.dirs) == 0 && len(opts.files) == 0:
		return opts, errors.New("nothing to put in the image: give -dir or -file")
	}
	for _, kv := range opts.env {
		if !strings.Contains(kv, "=") {
			return opts, fmt.Errorf("-env %q is not KEY=VALUE", kv)
		}
	}
	return opts, nil
}

// buildImage stacks the layers on an empty base and sets the config.
func buildImage(opts options) (v1.Image, error) {
	platform, err := v1.ParsePlatform(opts.platform)
	if err != nil {
		return nil, fmt.Errorf("-platform: %w", err)
	}
	var layers []v1.Layer
	for _, dir := range opts.dirs {
		layer, err := dirLayer(dir, opts.created)
		if err != nil {
			return nil, fmt.Errorf("layer from %s: %w", dir, err)
		}
		layers = append(layers, layer)
	}
	if len(opts.files) > 0 {
		layer, err := filesLayer(opts.files, opts.created)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	config, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	config = config.DeepCopy()
	config.OS, config.Architecture, config.Variant = platform.OS, platform.Architecture, platform.Variant
	config.Created = v1.Time{Time: opts.created}
	config.Config.Entrypoint = opts.entrypoint
	config.Config.Cmd = opts.cmd
	config.Config.Env = opts.env
	config.Config.User = opts.user
	config.Config.WorkingDir = opts.workdir
	return mutate.ConfigFile(img, config)
}
