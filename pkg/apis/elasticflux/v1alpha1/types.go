package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MiniCluster is an elastic Flux Framework cluster. The controller runs it as
// an Indexed Job of Flux brokers whose broker config lists every host up to
// spec.maxSize, so the cluster grows and shrinks in place as spec.size moves
// between spec.minSize and spec.maxSize. spec.size is the replica count of
// the scale subresource: kubectl scale, a HorizontalPodAutoscaler and the
// generated clientset's scale methods all resize it the same way.
//
// +genclient
// +genclient:method=GetScale,verb=get,subresource=scale,result=k8s.io/api/autoscaling/v1.Scale
// +genclient:method=UpdateScale,verb=update,subresource=scale,input=k8s.io/api/autoscaling/v1.Scale,result=k8s.io/api/autoscaling/v1.Scale
// +genclient:method=ApplyScale,verb=apply,subresource=scale,input=k8s.io/api/autoscaling/v1.Scale,result=k8s.io/api/autoscaling/v1.Scale
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=mc,categories=all;flux
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.size,statuspath=.status.size,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.size`,description="Brokers asked for"
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.status.size`,description="Broker pods that exist"
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readySize`,description="Broker pods that are ready"
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.status.maxSize`,description="The ceiling the broker config was rendered for"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,description="Why the cluster is or is not ready"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label that starts with a letter (lower case letters, digits and '-'): it names the brokers' headless Service"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) + 1 + size(string((has(self.spec.maxSize) ? self.spec.maxSize : self.spec.size) - 1)) <= 63",message="metadata.name is too long: the broker hostnames <name>-<index> must stay within 63 characters up to index maxSize-1"
type MiniCluster struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. The name is also the brokers' hostname prefix
	// and the name of their headless Service.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the user asks for.
	// +required
	Spec MiniClusterSpec `json:"spec"`

	// Status is what the controller last observed.
	// +optional
	Status MiniClusterStatus `json:"status,omitempty"`
}

// MiniClusterSpec is the desired state of a MiniCluster. Only size may change
// after creation: everything else shapes the broker pods or their config,
// and a Job's pod template is immutable.
//
// +kubebuilder:validation:XValidation:rule="self.minSize <= self.size",message="spec.size must be at least spec.minSize"
// +kubebuilder:validation:XValidation:rule="!has(self.maxSize) || self.size <= self.maxSize",message="spec.size must be between spec.minSize and spec.maxSize"
// +kubebuilder:validation:XValidation:rule="!has(self.maxSize) || self.minSize <= self.maxSize",message="spec.minSize must not exceed spec.maxSize"
// +kubebuilder:validation:XValidation:rule="has(oldSelf.maxSize) || self.size == oldSelf.size",message="spec.size is fixed because spec.maxSize was not set at creation: set spec.maxSize at creation to make this MiniCluster elastic"
// +kubebuilder:validation:XValidation:rule="has(self.maxSize) == has(oldSelf.maxSize) && (!has(self.maxSize) || self.maxSize == oldSelf.maxSize)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.maxSize"
// +kubebuilder:validation:XValidation:rule="self.minSize == oldSelf.minSize",message="only spec.size can change after creation; recreate the MiniCluster to change spec.minSize"
// +kubebuilder:validation:XValidation:rule="has(self.command) == has(oldSelf.command) && (!has(self.command) || self.command == oldSelf.command)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.command"
// +kubebuilder:validation:XValidation:rule="has(self.launcher) == has(oldSelf.launcher) && (!has(self.launcher) || self.launcher == oldSelf.launcher)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.launcher"
// +kubebuilder:validation:XValidation:rule="has(self.tasks) == has(oldSelf.tasks) && (!has(self.tasks) || self.tasks == oldSelf.tasks)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.tasks"
// +kubebuilder:validation:XValidation:rule="self.container == oldSelf.container",message="only spec.size can change after creation; recreate the MiniCluster to change spec.container"
// +kubebuilder:validation:XValidation:rule="has(self.pod) == has(oldSelf.pod) && (!has(self.pod) || self.pod == oldSelf.pod)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.pod"
// +kubebuilder:validation:XValidation:rule="has(self.flux) == has(oldSelf.flux) && (!has(self.flux) || self.flux == oldSelf.flux)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.flux"
// +kubebuilder:validation:XValidation:rule="has(self.archive) == has(oldSelf.archive) && (!has(self.archive) || self.archive == oldSelf.archive)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.archive"
// +kubebuilder:validation:XValidation:rule="has(self.elasticity) == has(oldSelf.elasticity) && (!has(self.elasticity) || self.elasticity == oldSelf.elasticity)",message="only spec.size can change after creation; recreate the MiniCluster to change spec.elasticity"
// +kubebuilder:validation:XValidation:rule="!has(self.launcher) || !self.launcher || has(self.command)",message="spec.launcher needs spec.command: launcher mode runs the command as the instance's initial program"
// +kubebuilder:validation:XValidation:rule="!has(self.tasks) || has(self.command)",message="spec.tasks needs spec.command: an interactive cluster submits no job"
// +kubebuilder:validation:XValidation:rule="!has(self.elasticity) || !has(self.elasticity.selfScaling) || !self.elasticity.selfScaling || !has(self.pod) || !has(self.pod.serviceAccountName)",message="spec.pod.serviceAccountName cannot be set with spec.elasticity.selfScaling: the controller gives a self-scaling MiniCluster a service account of its own"
// +kubebuilder:validation:XValidation:rule="!has(self.container.volumeMounts) || self.container.volumeMounts.all(m, has(self.pod) && has(self.pod.volumes) && self.pod.volumes.exists(v, v.name == m.name))",message="spec.container.volumeMounts[].name must name a volume of spec.pod.volumes",reason=FieldValueInvalid,fieldPath=".container.volumeMounts"
type MiniClusterSpec struct {
	// Size is the number of brokers to run now. It is the replica count of
	// the scale subresource, so kubectl scale and HorizontalPodAutoscalers
	// move it. It must stay within [minSize, maxSize].
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Size *int32 `json:"size,omitempty"`

	// MinSize is the floor for size and the broker quorum: the instance
	// starts once this many brokers have joined. Immutable.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MinSize *int32 `json:"minSize,omitempty"`

	// MaxSize is the ceiling for size. The broker config lists this many
	// hosts, so brokers up to this count can join without a restart.
	// Immutable. When unset the MiniCluster has a fixed size: the ceiling is
	// the size at creation and size cannot change.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxSize *int32 `json:"maxSize,omitempty"`

	// Command runs on rank 0 once the instance is up. By default it is
	// submitted as one job across the current brokers
	// (flux submit -N <size> --watch <command>) and the MiniCluster completes
	// when it ends. Without a command the cluster is interactive: the
	// brokers stay up until the MiniCluster is deleted. Immutable.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=4096
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`

	// Launcher runs the command itself as the instance's initial program on
	// rank 0 instead of submitting it, for commands that call flux
	// themselves. Needs command. Immutable.
	// +optional
	Launcher *bool `json:"launcher,omitempty"`

	// Tasks is the number of tasks of the submitted job (flux submit -n).
	// Unset lets Flux choose one task per broker. Needs command. Immutable.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Tasks *int32 `json:"tasks,omitempty"`

	// Container describes the broker container. The image must contain
	// Flux (flux-core and flux-sched). Immutable.
	// +required
	Container ContainerSpec `json:"container"`

	// Pod holds scheduling and metadata settings of the broker pods. Immutable.
	// +optional
	Pod *PodSpec `json:"pod,omitempty"`

	// Flux tunes the brokers. Immutable.
	// +optional
	Flux *FluxSpec `json:"flux,omitempty"`

	// Archive keeps the instance's state across MiniClusters. Immutable.
	// +optional
	Archive *ArchiveSpec `json:"archive,omitempty"`

	// Elasticity tunes how the cluster grows and shrinks. Immutable.
	// +optional
	Elasticity *ElasticitySpec `json:"elasticity,omitempty"`
}

// ContainerSpec describes the broker container.
type ContainerSpec struct {
	// Image is the container image; Flux must be installed in it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	Image string `json:"image"`

	// ImagePullPolicy is the image pull policy (Always, Never, IfNotPresent).
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// WorkingDir is the working directory of the brokers and of the command.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`

	// Env is extra environment for the brokers and their jobs.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Env []EnvVar `json:"env,omitempty"`

	// Resources of each broker container. A CPU request is what a
	// CPU-utilisation HorizontalPodAutoscaler measures against; an integer
	// CPU limit lets the controller render the brokers' resource set (R)
	// itself instead of asking Flux to probe the machine.
	// +optional
	Resources Resources `json:"resources,omitempty"`

	// VolumeMounts mounts volumes from spec.pod.volumes into the broker
	// container, each at its own mountPath.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=mountPath
	// +optional
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`

	// RunAsUser is the user ID the brokers run as. Unset keeps the image's
	// user.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RunAsUser *int64 `json:"runAsUser,omitempty"`

	// RunAsGroup is the group ID the brokers run as. Unset keeps the image's
	// group.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
}

// EnvVar is one environment variable with a literal value.
//
// +kubebuilder:validation:XValidation:rule="!self.name.startsWith('ELASTICFLUX_') && self.name != 'JOB_COMPLETION_INDEX'",message="spec.container.env must not set ELASTICFLUX_* or JOB_COMPLETION_INDEX: the controller and the Job controller set them to tell each broker its MiniCluster, size and rank",fieldPath=".name"
type EnvVar struct {
	// Name of the variable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z][-._a-zA-Z0-9]*$`
	// +required
	Name string `json:"name"`
	// Value of the variable.
	// +kubebuilder:validation:MaxLength=32768
	// +optional
	Value string `json:"value,omitempty"`
}

// Resources are the compute resources of one broker container.
type Resources struct {
	// Requests is what the scheduler reserves for each broker.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	Requests map[corev1.ResourceName]resource.Quantity `json:"requests,omitempty"`
	// Limits caps each broker.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	Limits map[corev1.ResourceName]resource.Quantity `json:"limits,omitempty"`
}

// VolumeMount mounts one volume of spec.pod.volumes into the broker container.
// The controller's own mounts are /etc/elasticflux (the broker config),
// /etc/elasticflux-curve (the curve certificate) and /var/lib/elasticflux
// (the broker's state): a mount there or below them is refused.
//
// +kubebuilder:validation:XValidation:rule="self.mountPath.matches('^(/[^/]+)+$') && !self.mountPath.matches('(^|/)[.][.]?(/|$)')",message="spec.container.volumeMounts[].mountPath must be an absolute path without trailing slash and without empty, '.' or '..' parts, e.g. /data",fieldPath=".mountPath"
// +kubebuilder:validation:XValidation:rule="!['/etc/elasticflux', '/etc/elasticflux-curve', '/var/lib/elasticflux'].exists(p, self.mountPath == p || self.mountPath.startsWith(p + '/'))",message="spec.container.volumeMounts[].mountPath must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them: the controller mounts the broker config, the curve certificate and the broker state there",fieldPath=".mountPath"
// +kubebuilder:validation:XValidation:rule="!has(self.subPath) || (!self.subPath.startsWith('/') && !self.subPath.matches('(^|/)[.][.](/|$)'))",message="spec.container.volumeMounts[].subPath must be a relative path without '..' parts",fieldPath=".subPath"
type VolumeMount struct {
	// Name of a volume in spec.pod.volumes.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// MountPath is where the volume appears in the container.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	MountPath string `json:"mountPath"`
	// SubPath mounts one path inside the volume instead of its root.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	SubPath string `json:"subPath,omitempty"`
	// ReadOnly mounts the volume read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`
}

// PodSpec holds the settings of the broker pods.
//
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || self.labels.all(k, !k.startsWith('elasticflux.io/'))",message="spec.pod.labels must not use the elasticflux.io/ prefix: the controller owns those labels"
type PodSpec struct {
	// Labels are added to every broker pod.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations are added to every broker pod.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// NodeSelector constrains the brokers to nodes with these labels.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let the brokers run on tainted nodes.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Tolerations []Toleration `json:"tolerations,omitempty"`

	// Affinity holds node and pod affinity rules for the brokers.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// ServiceAccountName is the service account the brokers run as. Its
	// token is mounted only when this is set. Not allowed together with
	// spec.elasticity.selfScaling, which brings its own.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// PriorityClassName is the priority class of the broker pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// SchedulerName is the scheduler that places the broker pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SchedulerName string `json:"schedulerName,omitempty"`

	// Volumes are made available to spec.container.volumeMounts, each under
	// its own name.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	Volumes []Volume `json:"volumes,omitempty"`
}

// Toleration lets a broker run on a node with a matching taint.
type Toleration struct {
	// Key is the taint key; empty with operator Exists matches every taint.
	// +kubebuilder:validation:MaxLength=317
	// +optional
	Key string `json:"key,omitempty"`
	// Operator is Exists or Equal (the default).
	// +kubebuilder:validation:Enum=Exists;Equal
	// +optional
	Operator corev1.TolerationOperator `json:"operator,omitempty"`
	// Value is the taint value for the Equal operator.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Value string `json:"value,omitempty"`
	// Effect is the taint effect to match; empty matches every effect.
	// +kubebuilder:validation:Enum=NoSchedule;PreferNoSchedule;NoExecute
	// +optional
	Effect corev1.TaintEffect `json:"effect,omitempty"`
	// TolerationSeconds bounds how long a NoExecute taint is tolerated.
	// +optional
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}

// Volume is a volume the brokers can mount. Exactly one source is set.
// Names starting with elasticflux- are the controller's.
//
// +kubebuilder:validation:XValidation:rule="[has(self.persistentVolumeClaim), has(self.configMap), has(self.secret), has(self.emptyDir), has(self.hostPath)].filter(x, x).size() == 1",message="a volume needs exactly one of persistentVolumeClaim, configMap, secret, emptyDir or hostPath"
// +kubebuilder:validation:XValidation:rule="!self.name.startsWith('elasticflux-')",message="spec.pod.volumes[].name must not start with elasticflux-: the controller's own volumes are elasticflux-config, elasticflux-curve and elasticflux-state",fieldPath=".name"
type Volume struct {
	// Name of the volume, used by volumeMounts.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`
	// PersistentVolumeClaim mounts an existing claim, e.g. shared storage
	// for spec.archive.
	// +optional
	PersistentVolumeClaim *ClaimSource `json:"persistentVolumeClaim,omitempty"`
	// ConfigMap mounts the keys of a ConfigMap as files.
	// +optional
	ConfigMap *ObjectSource `json:"configMap,omitempty"`
	// Secret mounts the keys of a Secret as files.
	// +optional
	Secret *ObjectSource `json:"secret,omitempty"`
	// EmptyDir is scratch space that lives as long as the pod.
	// +optional
	EmptyDir *EmptyDirSource `json:"emptyDir,omitempty"`
	// HostPath mounts a directory of the node.
	// +optional
	HostPath *HostPathSource `json:"hostPath,omitempty"`
}

// ClaimSource names a PersistentVolumeClaim in the MiniCluster's namespace.
type ClaimSource struct {
	// ClaimName is the claim's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	ClaimName string `json:"claimName"`
	// ReadOnly mounts the claim read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`
}

// ObjectSource names a ConfigMap or Secret in the MiniCluster's namespace.
type ObjectSource struct {
	// Name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// EmptyDirSource is scratch space.
type EmptyDirSource struct {
	// Medium is "" for the node's disk or "Memory" for tmpfs.
	// +kubebuilder:validation:Enum="";Memory
	// +optional
	Medium corev1.StorageMedium `json:"medium,omitempty"`
	// SizeLimit caps the space used.
	// +optional
	SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`
}

// HostPathSource is a directory of the node.
type HostPathSource struct {
	// Path on the node.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Path string `json:"path"`
}

// FluxSpec tunes the Flux brokers.
type FluxSpec struct {
	// LogLevel is the brokers' stderr log level, 0 (emergencies) to 7
	// (debug).
	// +kubebuilder:default=6
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=7
	// +optional
	LogLevel *int32 `json:"logLevel,omitempty"`

	// ConnectTimeout is how long a broker waits to connect to its parent
	// before it gives up, as a Flux duration (e.g. 30s, 5m).
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$`
	// +optional
	ConnectTimeout string `json:"connectTimeout,omitempty"`

	// QueuePolicy is the Fluxion queue policy. Unset names none in the
	// broker config, and Fluxion uses its own default (fcfs).
	// +kubebuilder:validation:Enum=fcfs;easy;conservative;hybrid
	// +optional
	QueuePolicy string `json:"queuePolicy,omitempty"`

	// TreeFanout arranges the brokers in a tree of this fanout
	// (tbon.topo=kary:N) instead of the flat default where every broker
	// connects to rank 0. Large clusters want it.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	TreeFanout *int32 `json:"treeFanout,omitempty"`

	// BrokerOptions are extra broker attributes, each as name=value, passed
	// to every broker as -S name=value.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z][-._a-zA-Z0-9]*=.*$`
	// +listType=atomic
	// +optional
	BrokerOptions []string `json:"brokerOptions,omitempty"`

	// CurveCertSecretName names an existing Secret in the namespace whose
	// key curve.cert holds the brokers' curve certificate; the controller
	// never creates or changes it. Unset: the controller creates one for
	// this MiniCluster, and makes a new one only when the old is gone and
	// no broker runs.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	CurveCertSecretName string `json:"curveCertSecretName,omitempty"`
}

// ArchiveSpec keeps the instance's state in a file across MiniClusters.
// +kubebuilder:validation:XValidation:rule="has(self.claimName) ? !self.path.startsWith('/') : self.path.startsWith('/')",message="spec.archive.path must be relative to the claim when spec.archive.claimName is set (e.g. flux/state.tar.gz), and an absolute path on a volume you mount yourself otherwise",fieldPath=".path"
// +kubebuilder:validation:XValidation:rule="!has(self.claimName) || !self.path.split('/').exists(part, part.size() == 0 || part == '.' || part == '..')",message="spec.archive.path must stay inside the claim: no empty, '.' or '..' parts",fieldPath=".path"
type ArchiveSpec struct {
	// ClaimName names a PersistentVolumeClaim in the MiniCluster's
	// namespace that holds the archive and outlives the MiniCluster. The
	// controller mounts it in the broker pods at
	// /var/lib/elasticflux/archive. Only rank 0 reads and writes it, but
	// every broker pod mounts it (they share one pod template), so its
	// access mode must let them: ReadWriteMany, or ReadWriteOnce when all
	// brokers share a node. Unset: path is on a volume you mount yourself
	// (pod.volumes and container.volumeMounts).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +optional
	ClaimName string `json:"claimName,omitempty"`

	// Path is the archive file: inside the claim (a relative path) with
	// claimName, an absolute path without. If it exists when the cluster
	// starts, rank 0 restores the instance from it (job history and KVS);
	// when rank 0 shuts down it stops the queue, waits for running jobs and
	// dumps the state there. Its extension picks the format (flux-dump):
	// .tar, .tgz, .tar.gz, ...
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Path string `json:"path"`
}

// ElasticitySpec tunes how the cluster grows and shrinks.
type ElasticitySpec struct {
	// SelfScaling gives the broker pods a service account that may read
	// this MiniCluster and change its size through the scale subresource,
	// and nothing else, so programs inside the cluster can resize it.
	// +optional
	SelfScaling *bool `json:"selfScaling,omitempty"`

	// DrainTimeoutSeconds is how long a broker that leaves on scale-down
	// waits for the jobs on its rank to finish after it is drained.
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	DrainTimeoutSeconds *int32 `json:"drainTimeoutSeconds,omitempty"`
}

// MiniClusterStatus is what the controller last observed.
type MiniClusterStatus struct {
	// Size is the number of broker pods that exist. It is the scale
	// subresource's status replica count.
	// +optional
	Size int32 `json:"size"`

	// ReadySize is the number of broker pods that are ready.
	// +optional
	ReadySize int32 `json:"readySize"`

	// MaxSize is the effective ceiling: spec.maxSize, or the size at
	// creation when spec.maxSize is unset.
	// +optional
	MaxSize int32 `json:"maxSize,omitempty"`

	// Selector is a label selector, in string form, that matches this
	// MiniCluster's broker pods and nothing else. HorizontalPodAutoscalers
	// read it through the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// ObservedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Resizing, Completed, Failed.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MiniClusterList is a list of MiniClusters.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type MiniClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the MiniClusters.
	Items []MiniCluster `json:"items"`
}
