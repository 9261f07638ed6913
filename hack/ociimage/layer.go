package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layerOptions trade a little size for speed: a root filesystem is
// hundreds of megabytes, and the archive only ever travels on this
// machine.
var layerOptions = []tarball.LayerOption{
	tarball.WithCompressionLevel(gzip.BestSpeed),
	tarball.WithCompressedCaching,
}

// dirLayer makes a layer of root's tree. The tar is spooled to a temporary
// file first, because the layer is read more than once (for its digests,
// then for the archive) and walking a large tree twice would be slower and
// could see two different trees.
func dirLayer(root string, created time.Time, options []tarball.LayerOption) (v1.Layer, error) {
	spool, err := os.CreateTemp("", "ociimage-layer-*.tar")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the open descriptor keeps it readable until exit,
	// and nothing is left behind however the program ends.
	_ = os.Remove(spool.Name())
	if err := writeTree(spool, root, created, true); err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(spool, 0, 1<<62)), nil
	}, options...)
}

// writeTree writes root's tree as a tar stream with symbolic and hard
// links and device nodes kept, and every time set to created; owners (by
// number) and modes are kept, or, when keepOwners is false (files whose
// owner and mode are whatever the build left), made root's and 0644/0755.
// Sockets are skipped: they mean nothing in an image.
func writeTree(w io.Writer, root string, created time.Time, keepOwners bool) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		header, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		header.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			header.Name += "/"
		}
		// Owners by number only: the host's user names mean nothing in
		// the image.
		header.Uname, header.Gname = "", ""
		if !keepOwners {
			header.Uid, header.Gid = 0, 0
			header.Mode = 0o644
			if info.IsDir() {
				header.Mode = 0o755
			}
		}
		header.ModTime, header.AccessTime, header.ChangeTime = created, time.Time{}, time.Time{}
		header.Format = tar.FormatPAX
		if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := seen[key]; ok {
				header.Typeflag, header.Linkname, header.Size = tar.TypeLink, first, 0
				return tw.WriteHeader(header)
			}
			seen[key] = header.Name
		}
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// fileEntry is one -file argument.
type fileEntry struct {
	source, target string
	mode           fs.FileMode
}

// parseFileEntry reads SRC:DST[:MODE]; without MODE the source's
// permissions are kept.
func parseFileEntry(arg string) (fileEntry, error) {
	parts := strings.Split(arg, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
		return fileEntry{}, fmt.Errorf("-file %q: want SRC:/ABSOLUTE/DST[:MODE]", arg)
	}
	entry := fileEntry{source: parts[0], target: path.Clean(parts[1])}
	if len(parts) == 3 {
		mode, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || mode > 0o7777 {
			return fileEntry{}, fmt.Errorf("-file %q: MODE %q is not an octal permission", arg, parts[2])
		}
		entry.mode = fs.FileMode(mode)
		return entry, nil
	}
	info, err := os.Stat(entry.source)
	if err != nil {
		return fileEntry{}, err
	}
	entry.mode = info.Mode().Perm()
	return entry, nil
}

// filesLayer puts each file at its target, owned by root, with the parent
// directories it needs.
func filesLayer(args []string, created time.Time, options []tarball.LayerOption) (v1.Layer, error) {
	var entries []fileEntry
	for _, arg := range args {
		entry, err := parseFileEntry(arg)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].target < entries[j].target })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, entry := range entries {
		var parents []string
		for dir := path.Dir(entry.target); dir != "/" && !dirs[dir]; dir = path.Dir(dir) {
			dirs[dir] = true
			parents = append([]string{dir}, parents...)
		}
		for _, dir := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir[1:] + "/", Mode: 0o755, ModTime: created, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(entry.source)
		if err != nil {
			return nil, err
		}
		header := &tar.Header{Typeflag: tar.TypeReg, Name: entry.target[1:], Mode: int64(entry.mode), Size: int64(len(data)), ModTime: created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(header); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, options...)
}
