package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is what the test reads back of one file in the image.
type entry struct {
	typeflag byte
	mode     int64
	uid, gid int
	linkname string
	content  string
}

// readImage opens an archive the way an importer would and flattens its
// file system.
func readImage(t *testing.T, archive, tag string) (map[string]entry, []string, string) {
	t.Helper()
	ref, err := name.NewTag(tag)
	require.NoError(t, err)
	img, err := tarball.ImageFromPath(archive, &ref)
	require.NoError(t, err)
	config, err := img.ConfigFile()
	require.NoError(t, err)
	digest, err := img.Digest()
	require.NoError(t, err)

	files := map[string]entry{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = entry{h.Typeflag, h.Mode & 0o7777, h.Uid, h.Gid, h.Linkname, string(data)}
	}
	return files, append(config.Config.Entrypoint, config.Config.User, config.OS+"/"+config.Architecture), digest.String()
}

func TestBuildsAnImageOfATreeAndFiles(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o750))
	require.NoError(t, os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-again")))
	require.NoError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "secret"), []byte("x"), 0o400))
	require.NoError(t, os.Chown(filepath.Join(root, "secret"), 1000, 1000))
	extra := filepath.Join(t.TempDir(), "pause")
	require.NoError(t, os.WriteFile(extra, []byte("binary"), 0o600))

	build := func(out string) {
		err := run([]string{
			"-tag", "localhost/test:1", "-out", out, "-platform", "linux/arm64",
			"-dir", root, "-file", extra + ":/opt/bin/pause:0755",
			"-entrypoint", "/opt/bin/pause", "-entrypoint", "--flag", "-user", "65532",
		}, io.Discard)
		require.NoError(t, err)
	}
	first := filepath.Join(t.TempDir(), "image.tar")
	build(first)
	files, config, digest := readImage(t, first, "localhost/test:1")

	assert.Equal(t, entry{tar.TypeReg, 0o750, 0, 0, "", "#!/bin/sh\n"}, files["usr/bin/tool"])
	assert.Equal(t, entry{tar.TypeLink, 0o750, 0, 0, "usr/bin/tool", ""}, files["usr/bin/tool-again"], "a hard link stays one")
	assert.Equal(t, entry{tar.TypeSymlink, 0o777, 0, 0, "usr/bin", ""}, files["bin"])
	assert.Equal(t, entry{tar.TypeReg, 0o400, 1000, 1000, "", "x"}, files["secret"], "owners and modes kept")
	assert.Equal(t, entry{tar.TypeReg, 0o755, 0, 0, "", "binary"}, files["opt/bin/pause"], "-file takes the mode given")
	assert.Equal(t, byte(tar.TypeDir), files["opt/bin"].typeflag, "parents of a -file exist")
	assert.Equal(t, []string{"/opt/bin/pause", "--flag", "65532", "linux/arm64"}, config)

	second := filepath.Join(t.TempDir(), "image.tar")
	build(second)
	_, _, again := readImage(t, second, "localhost/test:1")
	assert.Equal(t, digest, again, "the same inputs give the same image")
	_, err := os.Stat(first + ".partial")
	assert.True(t, os.IsNotExist(err), "no partial archive left")
}

func TestRefusesBadArguments(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no tag":         {[]string{"-out", "x.tar", "-dir", "."}, "-tag and -out are required"},
		"nothing inside": {[]string{"-tag", "a:1", "-out", "x.tar"}, "give -dir or -file"},
		"relative file":  {[]string{"-tag", "a:1", "-out", "x.tar", "-file", "a:b"}, "want SRC:/ABSOLUTE/DST"},
		"bad mode":       {[]string{"-tag", "a:1", "-out", "x.tar", "-file", "a:/b:9z"}, "not an octal permission"},
		"bad env":        {[]string{"-tag", "a:1", "-out", "x.tar", "-dir", ".", "-env", "PATH"}, "not KEY=VALUE"},
		"bad tag":        {[]string{"-tag", "UPPER CASE", "-out", "x.tar", "-dir", "."}, "-tag"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := run(tc.args, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
