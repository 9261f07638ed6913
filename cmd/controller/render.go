package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/controller"
	elasticfluxscheme "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/scheme"
)

// miniClusterKind is the only kind render reads.
var miniClusterKind = v1alpha1.SchemeGroupVersion.WithKind("MiniCluster")

// strictDecoder decodes MiniCluster YAML, refusing unknown and duplicate
// fields.
var strictDecoder = serializer.NewCodecFactory(elasticfluxscheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// runRender is the render subcommand: it reports an error on stderr and
// turns it into an exit code.
func runRender(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := render(args, stdin, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case err == errUsage:
		// The flag package has already said what was wrong.
		return exitUsage
	}
	fmt.Fprintln(stderr, "render:", err)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}

// render prints, as one YAML stream, every object the controller would
// create for each MiniCluster in a file, built by the controller's own
// builders (controller.RenderObjects). It needs no cluster. What the API
// server would add (CRD defaults, validation) is not applied, except the
// namespace "default" where none is given; the curve certificate is shown
// redacted.
func render(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: controller render -f FILE [--cluster-domain DOMAIN]\n\nPrints the objects the controller would create for the MiniClusters in FILE (- for standard input).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	file := fs.String("f", "", "A YAML file of one or more MiniClusters, or - for standard input.")
	clusterDomain := fs.String("cluster-domain", defaultOptions().clusterDomain, "The cluster's DNS domain, used in the brokers' connect URIs.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *file == "" {
		return fmt.Errorf("%w: -f FILE is required (- reads standard input)", errUsage)
	}
	if err := validateClusterDomain(*clusterDomain); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}

	source, data, err := readInput(*file, stdin)
	if err != nil {
		return err
	}
	miniClusters, err := decodeMiniClusters(source, data)
	if err != nil {
		return err
	}
	if err := elasticfluxscheme.AddToScheme(scheme.Scheme); err != nil {
		return fmt.Errorf("registering the MiniCluster kind: %w", err)
	}

	// Everything is rendered before anything is written, so a failure
	// leaves no half stream on stdout.
	var out bytes.Buffer
	for _, mc := range miniClusters {
		objects, err := controller.RenderObjects(mc, controller.Config{ClusterDomain: *clusterDomain})
		if err != nil {
			return fmt.Errorf("rendering MiniCluster %s/%s: %w", mc.Namespace, mc.Name, err)
		}
		for _, object := range objects {
			if err := writeDocument(&out, object); err != nil {
				return fmt.Errorf("writing the objects of MiniCluster %s/%s: %w", mc.Namespace, mc.Name, err)
			}
		}
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// readInput reads the file, or stdin for "-", and names the source for
// error messages.
func readInput(file string, stdin io.Reader) (source string, data []byte, err error) {
	if file == "-" {
		data, err = io.ReadAll(stdin)
		source = "standard input"
	} else {
		data, err = os.ReadFile(file)
		source = file
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading the MiniCluster: %w", err)
	}
	return source, data, nil
}

// decodeMiniClusters reads every document of a YAML stream as a
// MiniCluster, strictly: a field the API does not know is an error, not
// something silently dropped that the user believes is set.
func decodeMiniClusters(source string, data []byte) ([]*v1alpha1.MiniCluster, error) {
	var miniClusters []*v1alpha1.MiniCluster
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for index := 1; ; index++ {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", source, err)
		}
		var content map[string]any
		if err := yaml.Unmarshal(document, &content); err != nil {
			return nil, fmt.Errorf("%s, document %d: not YAML: %w", source, index, err)
		}
		if len(content) == 0 {
			continue // only comments, or the empty document of a leading ---
		}
		mc, err := decodeMiniCluster(document)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", source, index, err)
		}
		miniClusters = append(miniClusters, mc)
	}
	if len(miniClusters) == 0 {
		return nil, fmt.Errorf("%s holds no MiniCluster", source)
	}
	return miniClusters, nil
}

// decodeMiniCluster decodes one document strictly and gives it the
// namespace the API server would.
func decodeMiniCluster(document []byte) (*v1alpha1.MiniCluster, error) {
	// The kind first, so a Deployment or an HPA is named as the wrong kind
	// rather than reported as a pile of unknown MiniCluster fields.
	var typeMeta metav1.TypeMeta
	if err := yaml.Unmarshal(document, &typeMeta); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	if gvk := typeMeta.GroupVersionKind(); gvk != miniClusterKind {
		return nil, fmt.Errorf("kind %q of apiVersion %q is not a MiniCluster (apiVersion %s)", gvk.Kind, typeMeta.APIVersion, v1alpha1.SchemeGroupVersion)
	}
	mc := &v1alpha1.MiniCluster{}
	// The API machinery's strict decoder names each unknown or duplicate
	// field by its path, as the API server's own field validation does.
	if _, _, err := strictDecoder.Decode(document, nil, mc); err != nil {
		return nil, fmt.Errorf("decoding the MiniCluster (unknown and duplicate fields are errors): %w", err)
	}
	if mc.Name == "" {
		return nil, errors.New("the MiniCluster has no metadata.name")
	}
	if mc.Namespace == "" {
		mc.Namespace = metav1.NamespaceDefault
	}
	return mc, nil
}

// writeDocument appends object to a YAML stream, with its apiVersion and
// kind from the scheme, and without the empty creationTimestamp and status
// of an object that was never stored.
func writeDocument(out *bytes.Buffer, object runtime.Object) error {
	kinds, _, err := scheme.Scheme.ObjectKinds(object)
	if err != nil {
		return fmt.Errorf("looking up the kind of a %T: %w", object, err)
	}
	object.GetObjectKind().SetGroupVersionKind(kinds[0])
	if secret, ok := object.(*corev1.Secret); ok {
		// Shown as text, so a reader sees the redaction rather than base64.
		secret = secret.DeepCopy()
		secret.StringData = make(map[string]string, len(secret.Data))
		for key, value := range secret.Data {
			secret.StringData[key] = string(value)
		}
		secret.Data = nil
		object = secret
	}

	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(object)
	if err != nil {
		return fmt.Errorf("converting a %s: %w", kinds[0].Kind, err)
	}
	if created, found, _ := unstructured.NestedFieldNoCopy(content, "metadata", "creationTimestamp"); found && created == nil {
		unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
	}
	if status, ok := content["status"].(map[string]any); ok && len(status) == 0 {
		delete(content, "status")
	}
	var document yamlv3.Node
	if err := document.Encode(content); err != nil {
		return fmt.Errorf("encoding a %s: %w", kinds[0].Kind, err)
	}
	preferLiteralBlocks(&document)
	out.WriteString("---\n")
	encoder := yamlv3.NewEncoder(out)
	encoder.SetIndent(2)
	if err := encoder.Encode(&document); err != nil {
		return fmt.Errorf("encoding a %s: %w", kinds[0].Kind, err)
	}
	return encoder.Close()
}

// preferLiteralBlocks asks for multi-line strings (the broker TOML, the
// start script) as literal blocks, so they read as the files they are. The
// encoder keeps quoting a string a block cannot hold (trailing spaces);
// sigs.k8s.io/yaml would quote any that has a tab, as every script does.
func preferLiteralBlocks(node *yamlv3.Node) {
	if node.Kind == yamlv3.ScalarNode && node.Tag == "!!str" && strings.Contains(node.Value, "\n") {
		node.Style = yamlv3.LiteralStyle
	}
	for _, child := range node.Content {
		preferLiteralBlocks(child)
	}
}
