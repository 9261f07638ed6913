package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/controller"
	elasticfluxscheme "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/scheme"
)

// render prints, as a YAML stream, every object the controller would create
// for the MiniCluster in a file. It uses the controller's own builders; the
// curve certificate is shown redacted.
func render(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	file := fs.String("f", "", "MiniCluster YAML file, or - for standard input.")
	clusterDomain := fs.String("cluster-domain", "cluster.local", "The cluster's DNS domain.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("-f FILE is required (- reads standard input)")
	}
	var data []byte
	var err error
	if *file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		return err
	}

	mc := &v1alpha1.MiniCluster{}
	if err := yaml.UnmarshalStrict(data, mc); err != nil {
		return fmt.Errorf("reading the MiniCluster: %w", err)
	}
	if mc.Kind != "MiniCluster" || mc.APIVersion != v1alpha1.SchemeGroupVersion.String() {
		return fmt.Errorf("want kind MiniCluster of %s, got kind %q of %q", v1alpha1.SchemeGroupVersion, mc.Kind, mc.APIVersion)
	}
	if mc.Name == "" {
		return fmt.Errorf("the MiniCluster has no metadata.name")
	}
	if mc.Namespace == "" {
		mc.Namespace = "default"
	}

	objects, err := controller.RenderObjects(mc, controller.Config{ClusterDomain: *clusterDomain})
	if err != nil {
		return err
	}
	if err := elasticfluxscheme.AddToScheme(scheme.Scheme); err != nil {
		return err
	}
	var out bytes.Buffer
	for _, object := range objects {
		if secret, ok := object.(*corev1.Secret); ok {
			// Shown as text so a reader sees the redaction, not base64.
			secret.StringData = map[string]string{}
			for key, value := range secret.Data {
				secret.StringData[key] = string(value)
			}
			secret.Data = nil
		}
		kinds, _, err := scheme.Scheme.ObjectKinds(object)
		if err != nil {
			return err
		}
		object.GetObjectKind().SetGroupVersionKind(kinds[0])
		text, err := yaml.Marshal(object)
		if err != nil {
			return err
		}
		out.WriteString("---\n")
		out.Write(text)
	}
	_, err = stdout.Write(out.Bytes())
	return err
}
