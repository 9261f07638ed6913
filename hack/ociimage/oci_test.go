package main

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// untar unpacks an archive the way an importer reads it.
func untar(t *testing.T, archive string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		require.NoError(t, err)
		assert.Zero(t, h.Uid, "%s: owners are fixed", h.Name)
		target := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(target, 0o755))
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(target, data, 0o644))
	}
}

// fileIn reads one file of an image's flattened file system.
func fileIn(t *testing.T, img v1.Image, name string) string {
	t.Helper()
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		require.NoError(t, err, "%s not in the image", name)
		if h.Name == name {
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			return string(data)
		}
	}
}

func TestBuildsAMultiPlatformOCIArchive(t *testing.T) {
	binaries := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		require.NoError(t, os.MkdirAll(filepath.Join(binaries, "linux_"+arch), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(binaries, "linux_"+arch, "controller"), []byte("controller for "+arch), 0o755))
	}
	build := func() string {
		out := filepath.Join(t.TempDir(), "image.tar")
		require.NoError(t, run([]string{
			"-format", "oci", "-tag", "ghcr.io/elasticflux/elasticflux:v1.2.3", "-out", out,
			"-platform", "linux/amd64", "-platform", "linux/arm64",
			"-file", filepath.Join(binaries, "{os}_{arch}", "controller") + ":/usr/local/bin/controller:0755",
			"-entrypoint", "/usr/local/bin/controller", "-user", "65532:65532", "-created", "1700000000",
		}, io.Discard))
		return out
	}
	first := build()

	path, err := layout.FromPath(untar(t, first))
	require.NoError(t, err)
	top, err := path.ImageIndex()
	require.NoError(t, err)
	topManifest, err := top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, topManifest.Manifests, 1, "one entry in index.json: the multi-platform index")
	entry := topManifest.Manifests[0]
	assert.Equal(t, types.OCIImageIndex, entry.MediaType)
	assert.Equal(t, map[string]string{
		"org.opencontainers.image.ref.name": "v1.2.3",
		"io.containerd.image.name":          "ghcr.io/elasticflux/elasticflux:v1.2.3",
	}, entry.Annotations)

	index, err := top.ImageIndex(entry.Digest)
	require.NoError(t, err)
	manifest, err := index.IndexManifest()
	require.NoError(t, err)
	require.Len(t, manifest.Manifests, 2)
	for i, arch := range []string{"amd64", "arm64"} {
		descriptor := manifest.Manifests[i]
		assert.Equal(t, v1.Platform{OS: "linux", Architecture: arch}, *descriptor.Platform)
		assert.Equal(t, types.OCIManifestSchema1, descriptor.MediaType)
		img, err := index.Image(descriptor.Digest)
		require.NoError(t, err)
		config, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, arch, config.Architecture)
		assert.Equal(t, "65532:65532", config.Config.User)
		assert.Equal(t, []string{"/usr/local/bin/controller"}, config.Config.Entrypoint)
		assert.Equal(t, int64(1700000000), config.Created.Unix())
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1, "an empty base: the binaries are the only layer")
		mediaType, err := layers[0].MediaType()
		require.NoError(t, err)
		assert.Equal(t, types.OCILayer, mediaType)
		assert.Equal(t, "controller for "+arch, fileIn(t, img, "usr/local/bin/controller"), "each platform gets its own binary")
	}

	again := build()
	assert.Equal(t, sha256File(t, first), sha256File(t, again), "the same inputs give the same archive, byte for byte")
}

func TestRefusesSeveralPlatformsInADockerArchive(t *testing.T) {
	err := run([]string{"-tag", "a:1", "-out", "x.tar", "-file", "a:/a", "-platform", "linux/amd64", "-platform", "linux/arm64"}, io.Discard)
	require.ErrorContains(t, err, "use -format oci")
	err = run([]string{"-tag", "a:1", "-out", "x.tar", "-file", "a:/a", "-format", "zip"}, io.Discard)
	require.ErrorContains(t, err, "-format must be")
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}
