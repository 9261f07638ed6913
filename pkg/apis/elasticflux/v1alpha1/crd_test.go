package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservercel "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// loadCRD reads the generated CRD, the same file users apply.
func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "..", "manifests", "crd", "elasticflux.io_miniclusters.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.UnmarshalStrict(data, crd))
	return crd
}

func structural(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *structuralschema.Structural {
	t.Helper()
	require.Len(t, crd.Spec.Versions, 1)
	internal := &apiextensions.JSONSchemaProps{}
	require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, internal, nil))
	s, err := structuralschema.NewStructural(internal)
	require.NoError(t, err)
	return s
}

func TestCRDScaleSubresource(t *testing.T) {
	crd := loadCRD(t)
	require.Len(t, crd.Spec.Versions, 1)
	v := crd.Spec.Versions[0]
	assert.Equal(t, "v1alpha1", v.Name)
	assert.Equal(t, []string{"mc"}, crd.Spec.Names.ShortNames)
	require.NotNil(t, v.Subresources)
	require.NotNil(t, v.Subresources.Status, "status subresource")
	require.NotNil(t, v.Subresources.Scale, "scale subresource")
	assert.Equal(t, ".spec.size", v.Subresources.Scale.SpecReplicasPath)
	assert.Equal(t, ".status.size", v.Subresources.Scale.StatusReplicasPath)
	require.NotNil(t, v.Subresources.Scale.LabelSelectorPath)
	assert.Equal(t, ".status.selector", *v.Subresources.Scale.LabelSelectorPath)

	var columns []string
	for _, c := range v.AdditionalPrinterColumns {
		columns = append(columns, c.Name)
	}
	assert.Equal(t, []string{"Desired", "Size", "Ready", "Max", "Status", "Age"}, columns)
}

// TestCRDPassesAPIServerValidation runs the API server's own CRD validation,
// which includes the CEL compile and cost checks that reject rules over
// unbounded lists.
func TestCRDPassesAPIServerValidation(t *testing.T) {
	crd := loadCRD(t)
	internal := &apiextensions.CustomResourceDefinition{}
	require.NoError(t, apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, internal, nil))
	// The API server fills storedVersions on create; the file leaves it empty.
	internal.Status.StoredVersions = []string{"v1alpha1"}
	errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal)
	assert.Empty(t, errs.ToAggregate(), "the API server would refuse this CRD")
}

func TestCRDDefaults(t *testing.T) {
	s := structural(t, loadCRD(t))
	obj := miniCluster("flux-sample", map[string]any{"container": map[string]any{"image": "flux"}, "flux": map[string]any{}, "elasticity": map[string]any{}})
	defaulting.Default(obj, s)
	spec := obj["spec"].(map[string]any)
	assert.EqualValues(t, 1, spec["size"])
	assert.EqualValues(t, 1, spec["minSize"])
	assert.NotContains(t, spec, "maxSize", "maxSize has no default: unset means a fixed-size cluster")
	assert.EqualValues(t, 6, spec["flux"].(map[string]any)["logLevel"])
	assert.Equal(t, "30s", spec["flux"].(map[string]any)["connectTimeout"])
	assert.NotContains(t, spec["flux"], "queuePolicy", "no queue policy unless asked for: the broker config then names none")
	assert.EqualValues(t, 60, spec["elasticity"].(map[string]any)["drainTimeoutSeconds"])
}

func TestCRDValidationRules(t *testing.T) {
	s := structural(t, loadCRD(t))
	validator := cel.NewValidator(s, true, apiservercel.PerCallLimit)
	require.NotNil(t, validator)

	base := func(mutate func(spec map[string]any)) map[string]any {
		spec := map[string]any{"size": int64(2), "minSize": int64(1), "maxSize": int64(8), "container": map[string]any{"image": "flux"}}
		if mutate != nil {
			mutate(spec)
		}
		return miniCluster("flux-sample", spec)
	}

	cases := map[string]struct {
		name    string
		old     map[string]any
		new     map[string]any
		wantErr string
	}{
		"valid create": {new: base(nil)},
		"size above maxSize": {
			new:     base(func(s map[string]any) { s["size"] = int64(9) }),
			wantErr: "spec.size must be between spec.minSize and spec.maxSize",
		},
		"size below minSize": {
			new:     base(func(s map[string]any) { s["minSize"] = int64(3) }),
			wantErr: "spec.size must be at least spec.minSize",
		},
		"minSize above maxSize": {
			new:     base(func(s map[string]any) { s["minSize"] = int64(9); s["size"] = int64(9); s["maxSize"] = int64(8) }),
			wantErr: "spec.minSize must not exceed spec.maxSize",
		},
		"resize within range": {
			old: base(nil),
			new: base(func(s map[string]any) { s["size"] = int64(8) }),
		},
		"maxSize is immutable": {
			old:     base(nil),
			new:     base(func(s map[string]any) { s["maxSize"] = int64(16) }),
			wantErr: "recreate the MiniCluster to change spec.maxSize",
		},
		"maxSize cannot be added later": {
			old:     base(func(s map[string]any) { delete(s, "maxSize") }),
			new:     base(nil),
			wantErr: "recreate the MiniCluster to change spec.maxSize",
		},
		"fixed-size cluster cannot resize": {
			old:     base(func(s map[string]any) { delete(s, "maxSize") }),
			new:     base(func(s map[string]any) { delete(s, "maxSize"); s["size"] = int64(3) }),
			wantErr: "set spec.maxSize at creation to make this MiniCluster elastic",
		},
		"container is immutable": {
			old:     base(nil),
			new:     base(func(s map[string]any) { s["container"] = map[string]any{"image": "flux:2"} }),
			wantErr: "recreate the MiniCluster to change spec.container",
		},
		"pod cannot be added later": {
			old:     base(nil),
			new:     base(func(s map[string]any) { s["pod"] = map[string]any{"nodeSelector": map[string]any{"a": "b"}} }),
			wantErr: "recreate the MiniCluster to change spec.pod",
		},
		"minSize is immutable": {
			old:     base(nil),
			new:     base(func(s map[string]any) { s["minSize"] = int64(2) }),
			wantErr: "recreate the MiniCluster to change spec.minSize",
		},
		"launcher needs a command": {
			new:     base(func(s map[string]any) { s["launcher"] = true }),
			wantErr: "spec.launcher needs spec.command",
		},
		"self-scaling with a service account": {
			new: base(func(s map[string]any) {
				s["elasticity"] = map[string]any{"selfScaling": true}
				s["pod"] = map[string]any{"serviceAccountName": "mine"}
			}),
			wantErr: "spec.pod.serviceAccountName cannot be set with spec.elasticity.selfScaling",
		},
		"reserved label": {
			new: base(func(s map[string]any) {
				s["pod"] = map[string]any{"labels": map[string]any{"elasticflux.io/minicluster": "x"}}
			}),
			wantErr: "must not use the elasticflux.io/ prefix",
		},
		"volume with two sources": {
			new: base(func(s map[string]any) {
				s["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "v", "emptyDir": map[string]any{}, "hostPath": map[string]any{"path": "/x"}}}}
			}),
			wantErr: "a volume needs exactly one of",
		},
		"name too long for maxSize hostnames": {
			name:    strings.Repeat("a", 62),
			new:     base(nil),
			wantErr: "metadata.name is too long",
		},
		"name that is not a DNS label": {
			name:    "9lives",
			new:     base(nil),
			wantErr: "metadata.name must be a DNS label",
		},
		"mount naming no volume": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data"}}}
			}),
			wantErr: "spec.container.volumeMounts[].name must name a volume of spec.pod.volumes",
		},
		"mount naming another volume": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data"}}}
				s["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "scratch", "emptyDir": map[string]any{}}}}
			}),
			wantErr: "spec.container.volumeMounts[].name must name a volume of spec.pod.volumes",
		},
		"mount of a volume": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data", "subPath": "run/1"}}}
				s["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "data", "emptyDir": map[string]any{}}}}
			}),
		},
		"reserved volume name": {
			new: base(func(s map[string]any) {
				s["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "elasticflux-config", "emptyDir": map[string]any{}}}}
			}),
			wantErr: "spec.pod.volumes[].name must not start with elasticflux-",
		},
		"mount on the broker config": {
			new:     mounted("/etc/elasticflux"),
			wantErr: "must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them",
		},
		"mount inside the curve certificate's directory": {
			new:     mounted("/etc/elasticflux-curve/x"),
			wantErr: "must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them",
		},
		"mount inside the broker state": {
			new:     mounted("/var/lib/elasticflux/run"),
			wantErr: "must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them",
		},
		"mount beside the reserved paths": {new: mounted("/etc/elasticfluxdata")},
		"mount above the reserved paths":  {new: mounted("/var/lib")},
		"unclean mount path": {
			new:     mounted("/etc//elasticflux"),
			wantErr: "must be an absolute path without trailing slash and without empty, '.' or '..' parts",
		},
		"dotted mount path": {
			new:     mounted("/etc/./elasticflux"),
			wantErr: "must be an absolute path without trailing slash and without empty, '.' or '..' parts",
		},
		"relative mount path": {
			new:     mounted("data"),
			wantErr: "must be an absolute path",
		},
		"subPath leaving the volume": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data", "subPath": "a/../../b"}}}
				s["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "data", "emptyDir": map[string]any{}}}}
			}),
			wantErr: "subPath must be a relative path without '..' parts",
		},
		"controller's environment variable": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "env": []any{map[string]any{"name": "ELASTICFLUX_SIZE", "value": "9"}}}
			}),
			wantErr: "spec.container.env must not set ELASTICFLUX_* or JOB_COMPLETION_INDEX",
		},
		"the rank's environment variable": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "env": []any{map[string]any{"name": "JOB_COMPLETION_INDEX", "value": "0"}}}
			}),
			wantErr: "spec.container.env must not set ELASTICFLUX_* or JOB_COMPLETION_INDEX",
		},
		"archive on a claim": {
			new: base(func(s map[string]any) {
				s["archive"] = map[string]any{"claimName": "flux-archive", "path": "flux/state.tar.gz"}
			}),
		},
		"archive on your own volume": {
			new: base(func(s map[string]any) { s["archive"] = map[string]any{"path": "/data/state.tar.gz"} }),
		},
		"absolute archive path on a claim": {
			new: base(func(s map[string]any) {
				s["archive"] = map[string]any{"claimName": "flux-archive", "path": "/data/state.tar.gz"}
			}),
			wantErr: "spec.archive.path must be relative to the claim when spec.archive.claimName is set",
		},
		"relative archive path without a claim": {
			new:     base(func(s map[string]any) { s["archive"] = map[string]any{"path": "state.tar.gz"} }),
			wantErr: "spec.archive.path must be relative to the claim when spec.archive.claimName is set",
		},
		"archive path leaving the claim": {
			new: base(func(s map[string]any) {
				s["archive"] = map[string]any{"claimName": "flux-archive", "path": "flux/../../state.tar"}
			}),
			wantErr: "spec.archive.path must stay inside the claim",
		},
		"archive path with an empty part": {
			new: base(func(s map[string]any) {
				s["archive"] = map[string]any{"claimName": "flux-archive", "path": "flux//state.tar"}
			}),
			wantErr: "spec.archive.path must stay inside the claim",
		},
		"user's environment variable": {
			new: base(func(s map[string]any) {
				s["container"] = map[string]any{"image": "flux", "env": []any{map[string]any{"name": "OMP_NUM_THREADS", "value": "4"}}}
			}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.name != "" {
				tc.new["metadata"].(map[string]any)["name"] = tc.name
				if tc.old != nil {
					tc.old["metadata"].(map[string]any)["name"] = tc.name
				}
			}
			defaulting.Default(tc.new, s)
			var old any
			if tc.old != nil {
				defaulting.Default(tc.old, s)
				old = tc.old
			}
			errs, _ := validator.Validate(context.Background(), nil, s, tc.new, old, apiservercel.RuntimeCELCostBudget)
			if tc.wantErr == "" {
				assert.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs)
			assert.Contains(t, errs.ToAggregate().Error(), tc.wantErr)
		})
	}
}

// mounted is a valid MiniCluster that mounts a volume at path.
func mounted(path string) map[string]any {
	return miniCluster("flux-sample", map[string]any{
		"size": int64(2), "minSize": int64(1), "maxSize": int64(8),
		"container": map[string]any{"image": "flux", "volumeMounts": []any{map[string]any{"name": "data", "mountPath": path}}},
		"pod":       map[string]any{"volumes": []any{map[string]any{"name": "data", "emptyDir": map[string]any{}}}},
	})
}

func miniCluster(name string, spec map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "elasticflux.io/v1alpha1",
		"kind":       "MiniCluster",
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"spec":       spec,
	}
}
