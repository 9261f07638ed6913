package main

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The annotations that name an image in an OCI layout: the OCI spec's
// reference name (a tag) and the full reference containerd's importer
// registers the image under.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// buildIndex makes one image per platform and an OCI image index of them.
func buildIndex(opts options) (v1.ImageIndex, error) {
	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platformName := range opts.platforms {
		img, err := buildImage(opts, platformName)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platformName, err)
		}
		platform, err := v1.ParsePlatform(platformName)
		if err != nil {
			return nil, err
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: platform},
		})
	}
	return index, nil
}

// writeOCIArchive writes the index as an OCI image layout (go-containerregistry
// writes the blobs, manifests and index.json) into a temporary directory,
// then tars that directory with fixed owners and times, so the same inputs
// give the same archive. It returns the index's digest.
func writeOCIArchive(path string, tag name.Tag, opts options) (v1.Hash, error) {
	index, err := buildIndex(opts)
	if err != nil {
		return v1.Hash{}, err
	}
	dir, err := os.MkdirTemp("", "ociimage-layout-*")
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	layoutPath, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := layoutPath.AppendIndex(index, layout.WithAnnotations(map[string]string{
		annotationRefName:        tag.TagStr(),
		annotationContainerdName: tag.Name(),
	})); err != nil {
		return v1.Hash{}, err
	}
	out, err := os.Create(path)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := writeTree(out, dir, opts.created, false); err != nil {
		_ = out.Close()
		return v1.Hash{}, err
	}
	if err := out.Close(); err != nil {
		return v1.Hash{}, err
	}
	return index.Digest()
}
