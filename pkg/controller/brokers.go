package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/fluxconfig"
)

// Where things live inside a broker container. The ConfigMap and the Secret
// are read-only; the state directory is a per-pod emptyDir the start script
// writes to (the private copy of the certificate, R when Flux probes it, the
// broker's rundir).
const (
	configMountPath = "/etc/elasticflux"
	curveMountPath  = "/etc/elasticflux-curve"
	stateMountPath  = "/var/lib/elasticflux"
	// archiveMountPath is where spec.archive.claimName is mounted.
	archiveMountPath = stateMountPath + "/archive"

	brokerTOMLKey  = "broker.toml"
	rKey           = "R"
	startScriptKey = "start.sh"
	preStopKey     = "prestop.sh"
	// CurveCertKey is the key of the curve certificate in its Secret, also
	// in a user-provided one (spec.flux.curveCertSecretName).
	CurveCertKey = "curve.cert"

	brokerPort = fluxconfig.DefaultBrokerPort

	// brokerRunDir is the broker's rundir, where its socket is.
	brokerRunDir = stateMountPath + "/run"

	// envRank is the broker's rank, from the pod's completion index; the
	// pod's FLUX_URI is built from it.
	envRank = "ELASTICFLUX_RANK"

	// envSize carries the size at creation into the pods, for
	// `flux submit -N`; the start script reads it from the environment so
	// the ConfigMap does not change when the cluster is resized.
	envSize = "ELASTICFLUX_SIZE"
	// envMiniCluster and envNamespace name the MiniCluster a broker belongs
	// to, e.g. for self-scaling.
	envMiniCluster = "ELASTICFLUX_MINICLUSTER"
	envNamespace   = "ELASTICFLUX_NAMESPACE"
)

// Defaults the CRD applies at admission; builders apply them too so a
// MiniCluster read from a file (render) comes out the same. The queue policy
// has none: without one the broker config names none and Fluxion uses its
// own default.
const (
	defaultLogLevel       = 6
	defaultConnectTimeout = "30s"
	defaultDrainTimeout   = 60
)

func fluxSpec(mc *v1alpha1.MiniCluster) v1alpha1.FluxSpec {
	if mc.Spec.Flux == nil {
		return v1alpha1.FluxSpec{}
	}
	return *mc.Spec.Flux
}

func drainTimeoutSeconds(mc *v1alpha1.MiniCluster) int32 {
	if e := mc.Spec.Elasticity; e != nil && e.DrainTimeoutSeconds != nil {
		return *e.DrainTimeoutSeconds
	}
	return defaultDrainTimeout
}

// brokerConfig is the broker TOML's input: the hosts list covers maxSize,
// so brokers that do not exist yet are merely offline.
func brokerConfig(mc *v1alpha1.MiniCluster, clusterDomain string, renderedR bool) fluxconfig.BrokerConfig {
	flux := fluxSpec(mc)
	config := fluxconfig.BrokerConfig{
		Name:           mc.Name,
		ServiceName:    serviceName(mc),
		Namespace:      mc.Namespace,
		ClusterDomain:  clusterDomain,
		MaxSize:        int(mc.MaximumSize()),
		Port:           brokerPort,
		Bind:           "tcp://0.0.0.0:%p",
		CurveCertPath:  stateMountPath + "/curve.cert",
		RPath:          rPath(renderedR),
		QueuePolicy:    flux.QueuePolicy,
		AllowGuestUser: true,
		AllowRootOwner: true,
	}
	if flux.TreeFanout != nil {
		config.TBONTopo = fmt.Sprintf("kary:%d", *flux.TreeFanout)
	}
	return config
}

func rPath(rendered bool) string {
	if rendered {
		return configMountPath + "/" + rKey
	}
	return stateMountPath + "/R"
}

// brokerCores is the cores each broker may use when the container has an
// integer CPU limit, which is what lets us render R ourselves; zero means
// Flux probes the machine at start-up.
func brokerCores(mc *v1alpha1.MiniCluster) (cores, gpus int) {
	limits := mc.Spec.Container.Resources.Limits
	if cpu, ok := limits[corev1.ResourceCPU]; ok && cpu.MilliValue() > 0 && cpu.MilliValue()%1000 == 0 {
		cores = int(cpu.Value())
	}
	if gpu, ok := limits["nvidia.com/gpu"]; ok {
		gpus = int(gpu.Value())
	}
	return cores, gpus
}

// scriptOptions is the start and preStop scripts' input. Nothing in it
// depends on spec.size, so a resize never rewrites the ConfigMap.
func scriptOptions(mc *v1alpha1.MiniCluster, renderedR bool) fluxconfig.ScriptOptions {
	flux := fluxSpec(mc)
	logLevel := defaultLogLevel
	if flux.LogLevel != nil {
		logLevel = int(*flux.LogLevel)
	}
	connectTimeout := flux.ConnectTimeout
	if connectTimeout == "" {
		connectTimeout = defaultConnectTimeout
	}
	options := fluxconfig.ScriptOptions{
		ConfigPath:          configMountPath + "/" + brokerTOMLKey,
		CurveCertSource:     curveMountPath + "/" + CurveCertKey,
		CurveCertPath:       stateMountPath + "/curve.cert",
		RPath:               rPath(renderedR),
		RenderedR:           renderedR,
		Hostlist:            fluxconfig.BrokerHostlist(mc.Name, int(mc.MaximumSize())),
		RunDir:              brokerRunDir,
		MinSize:             int(mc.MinimumSize()),
		SizeEnv:             envSize,
		ConnectTimeout:      connectTimeout,
		LogLevel:            logLevel,
		Interactive:         len(mc.Spec.Command) == 0,
		Command:             mc.Spec.Command,
		Launcher:            mc.Spec.Launcher != nil && *mc.Spec.Launcher,
		DrainTimeoutSeconds: int(drainTimeoutSeconds(mc)),
		BrokerOptions:       flux.BrokerOptions,
	}
	if mc.Spec.Tasks != nil {
		options.Tasks = int(*mc.Spec.Tasks)
	}
	if mc.Spec.Archive != nil {
		options.ArchivePath = archivePath(mc.Spec.Archive)
	}
	return options
}

// archivePath is where rank 0 finds the archive: inside the mounted claim,
// or where the user mounted it.
func archivePath(archive *v1alpha1.ArchiveSpec) string {
	if archive.ClaimName != "" {
		return archiveMountPath + "/" + archive.Path
	}
	return archive.Path
}
