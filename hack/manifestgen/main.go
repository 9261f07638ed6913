// Command manifestgen writes manifests/ from the Helm chart: it reads the
// output of `helm template --include-crds` on stdin and writes each object
// to the file its template came from (templates/rbac/x.yaml becomes
// rbac/x.yaml, crds/x.yaml becomes crd/x.yaml), with Helm's own labels
// removed, plus a kustomization.yaml that lists them.
//
//	helm template elasticflux charts/elasticflux --include-crds ... | manifestgen -out manifests
//
// It owns the directories it writes into: a file there that the chart no
// longer renders is removed. Everything else under -out (samples/) is left
// alone.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// generatedHeader opens every file manifestgen writes.
const generatedHeader = "# Generated from charts/elasticflux by `make generate`: change the chart, not this file.\n"

// helmOnlyLabel matches the label lines the chart sets for Helm's sake: in
// manifests applied with kubectl they would say Helm manages the objects.
var helmOnlyLabel = regexp.MustCompile(`^\s+(helm\.sh/chart|app\.kubernetes\.io/managed-by):.*$`)

// sourceComment is the line helm template puts before each document.
var sourceComment = regexp.MustCompile(`^# Source: [^/]+/(.+)$`)

// document is one rendered object and the file it goes to.
type document struct {
	file string
	body string
}

func main() {
	out := flag.String("out", "manifests", "Directory to write.")
	flag.Parse()
	docs, err := split(os.Stdin)
	if err == nil {
		err = write(*out, docs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifestgen:", err)
		os.Exit(1)
	}
}

// split reads helm template's stream into documents, each with the file it
// belongs to and without Helm's labels.
func split(r io.Reader) ([]document, error) {
	var docs []document
	var current *document
	var body strings.Builder
	flush := func() {
		if current != nil && strings.TrimSpace(body.String()) != "" {
			current.body = strings.TrimLeft(body.String(), "\n")
			docs = append(docs, *current)
		}
		current = nil
		body.Reset()
	}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		// A file that opens with its own separator (controller-gen's CRD
		// does) puts one right after its Source line.
		case line == "---" && current != nil && strings.TrimSpace(body.String()) == "":
		case line == "---":
			flush()
		case sourceComment.MatchString(line):
			file, err := outputFile(sourceComment.FindStringSubmatch(line)[1])
			if err != nil {
				return nil, err
			}
			current = &document{file: file}
		case helmOnlyLabel.MatchString(line):
		default:
			if current == nil && strings.TrimSpace(line) != "" {
				return nil, fmt.Errorf("a document without a '# Source:' line: %q", line)
			}
			body.WriteString(line + "\n")
		}
	}
	flush()
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("no documents on stdin")
	}
	return docs, nil
}

// outputFile maps a chart file to its place under manifests/.
func outputFile(chartFile string) (string, error) {
	if rest, ok := strings.CutPrefix(chartFile, "templates/"); ok {
		return rest, nil
	}
	if rest, ok := strings.CutPrefix(chartFile, "crds/"); ok {
		return filepath.Join("crd", rest), nil
	}
	return "", fmt.Errorf("%s is neither a template nor a CRD", chartFile)
}

// write puts the documents into their files under dir, in the order helm
// rendered them, removes files of the owned directories that no document
// went to, and writes kustomization.yaml.
func write(dir string, docs []document) error {
	var files []string
	bodies := map[string][]string{}
	for _, doc := range docs {
		if _, seen := bodies[doc.file]; !seen {
			files = append(files, doc.file)
		}
		bodies[doc.file] = append(bodies[doc.file], doc.body)
	}
	owned := map[string]bool{}
	for _, file := range files {
		owned[filepath.Dir(file)] = true
		path := filepath.Join(dir, file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		content := generatedHeader + strings.Join(bodies[file], "---\n")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for sub := range owned {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return err
		}
		for _, entry := range entries {
			if rel := filepath.Join(sub, entry.Name()); !entry.IsDir() && !slices.Contains(files, rel) {
				if err := os.Remove(filepath.Join(dir, rel)); err != nil {
					return err
				}
			}
		}
	}
	var kustomization strings.Builder
	kustomization.WriteString(generatedHeader)
	kustomization.WriteString("#\n# kubectl apply -k manifests/ installs the CRD, RBAC and the controller in\n# elasticflux-system. The samples are not included: apply them on their own.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, file := range files {
		kustomization.WriteString("- " + filepath.ToSlash(file) + "\n")
	}
	return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization.String()), 0o644)
}
