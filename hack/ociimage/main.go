// Command ociimage builds a container image from local files, with no
// Docker daemon and no registry, and writes it as an archive that
// `ctr images import` reads.
//
//	ociimage -tag localhost/pause:1 -out pause.tar -file bin/pause:/pause:0755 -entrypoint /pause
//	ociimage -tag localhost/elasticflux/flux-core:0.88.0 -out flux.tar -dir rootfs -env PATH=/usr/bin:/bin
//	ociimage -format oci -tag ghcr.io/elasticflux/elasticflux:v0.1.0 -out image.tar \
//	    -platform linux/amd64 -platform linux/arm64 -file 'bin/{os}_{arch}/controller:/usr/local/bin/controller:0755' ...
//
// Each -dir becomes one layer holding that directory's tree as the image's
// root, owners and modes kept; all -file entries together make one more
// layer. The base is empty: nothing is pulled.
//
// -format docker (the default) writes a docker-archive of one platform.
// -format oci writes an OCI image layout in a tar: an index with one image
// per -platform, where {os}, {arch} and {variant} in a -file source name
// that platform's file. The index is named in its annotations (the tag as
// org.opencontainers.image.ref.name, the full reference as containerd's
// io.containerd.image.name), so `ctr images import` registers it under
// -tag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Archive formats -format accepts.
const (
	formatDocker = "docker"
	formatOCI    = "oci"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// options are the command line.
type options struct {
	tag        string
	out        string
	format     string
	platforms  stringList
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
	// Written next to the target and renamed, so an interrupted run never
	// leaves a truncated archive that looks finished.
	partial := opts.out + ".partial"
	var digest v1.Hash
	if opts.format == formatOCI {
		digest, err = writeOCIArchive(partial, tag, opts)
	} else {
		digest, err = writeDockerArchive(partial, tag, opts)
	}
	if err != nil {
		_ = os.Remove(partial)
		return fmt.Errorf("writing %s: %w", opts.out, err)
	}
	if err := os.Rename(partial, opts.out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%s, %s)\n", opts.out, tag, digest)
	return nil
}

// writeDockerArchive writes the image of the one platform as a
// docker-archive and returns its digest.
func writeDockerArchive(path string, tag name.Tag, opts options) (v1.Hash, error) {
	img, err := buildImage(opts, opts.platforms[0])
	if err != nil {
		return v1.Hash{}, err
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	opts := options{format: formatDocker}
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.tag, "tag", "", "Image name and tag, e.g. localhost/pause:1 (required).")
	fs.StringVar(&opts.out, "out", "", "Archive to write (required).")
	fs.StringVar(&opts.format, "format", opts.format, `Archive format: "docker" (docker-archive, one platform) or "oci" (OCI image layout in a tar, an index of every -platform).`)
	fs.Var(&opts.platforms, "platform", "OS/architecture[/variant] the image is for. Repeatable with -format oci. Default: linux/"+runtime.GOARCH+".")
	fs.Var(&opts.dirs, "dir", "A directory whose tree becomes one layer, rooted at /. Repeatable.")
	fs.Var(&opts.files, "file", "SRC:DST[:MODE] puts the local file SRC at DST in the image, MODE in octal (default: SRC's); {os}, {arch} and {variant} in SRC are the platform's. Repeatable; all files share one layer.")
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
	if len(opts.platforms) == 0 {
		opts.platforms = stringList{"linux/" + runtime.GOARCH}
	}
	switch {
	case fs.NArg() > 0:
		return opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case opts.tag == "" || opts.out == "":
		return opts, errors.New("-tag and -out are required")
	case len(opts.dirs) == 0 && len(opts.files) == 0:
		return opts, errors.New("nothing to put in the image: give -dir or -file")
	case opts.format != formatDocker && opts.format != formatOCI:
		return opts, fmt.Errorf("-format must be %q or %q, got %q", formatDocker, formatOCI, opts.format)
	case opts.format == formatDocker && len(opts.platforms) > 1:
		return opts, errors.New("a docker-archive holds one platform: use -format oci for several")
	}
	for _, kv := range opts.env {
		if !strings.Contains(kv, "=") {
			return opts, fmt.Errorf("-env %q is not KEY=VALUE", kv)
		}
	}
	for _, platform := range opts.platforms {
		if _, err := v1.ParsePlatform(platform); err != nil {
			return opts, fmt.Errorf("-platform %q: %w", platform, err)
		}
	}
	return opts, nil
}

// buildImage stacks the layers on an empty base and sets the config, for
// one platform. With -format oci every part carries OCI media types.
func buildImage(opts options, platformName string) (v1.Image, error) {
	platform, err := v1.ParsePlatform(platformName)
	if err != nil {
		return nil, fmt.Errorf("-platform: %w", err)
	}
	layerOpts := layerOptions
	base := empty.Image
	if opts.format == formatOCI {
		layerOpts = append(slices.Clone(layerOptions), tarball.WithMediaType(types.OCILayer))
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	var layers []v1.Layer
	for _, dir := range opts.dirs {
		layer, err := dirLayer(dir, opts.created, layerOpts)
		if err != nil {
			return nil, fmt.Errorf("layer from %s: %w", dir, err)
		}
		layers = append(layers, layer)
	}
	if len(opts.files) > 0 {
		files := make([]string, len(opts.files))
		for i, file := range opts.files {
			files[i] = forPlatform(file, *platform)
		}
		layer, err := filesLayer(files, opts.created, layerOpts)
		if err != nil {
			return nil, err
		}
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(base, layers...)
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

// forPlatform fills in the platform's {os}, {arch} and {variant} in a
// -file argument.
func forPlatform(file string, platform v1.Platform) string {
	return strings.NewReplacer("{os}", platform.OS, "{arch}", platform.Architecture, "{variant}", platform.Variant).Replace(file)
}
