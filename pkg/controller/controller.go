// Package controller runs MiniClusters: informers and a rate-limited
// workqueue feed a level-triggered sync handler that owns each MiniCluster's
// Indexed Job, headless Service, broker ConfigMap, curve Secret and, for
// self-scaling clusters, its ServiceAccount, Role and RoleBinding.
package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
	elasticfluxscheme "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/scheme"
	informers "github.com/elasticflux/elasticflux/pkg/generated/informers/externalversions"
	listers "github.com/elasticflux/elasticflux/pkg/generated/listers/elasticflux/v1alpha1"
)

// controllerKind is the kind of the owner of everything we create.
var controllerKind = v1alpha1.SchemeGroupVersion.WithKind("MiniCluster")

// Controller reconciles MiniClusters.
type Controller struct {
	kubeClient    kubernetes.Interface
	elasticClient clientset.Interface
	config        Config

	miniClusters      listers.MiniClusterLister
	jobs              batchlisters.JobLister
	services          corelisters.ServiceLister
	configMaps        corelisters.ConfigMapLister
	secrets           corelisters.SecretLister
	serviceAccounts   corelisters.ServiceAccountLister
	roles             rbaclisters.RoleLister
	roleBindings      rbaclisters.RoleBindingLister
	pdbs              policylisters.PodDisruptionBudgetLister
	cachesSynced      []cache.InformerSynced
	workqueue         workqueue.TypedRateLimitingInterface[cache.ObjectName]
	recorder          record.EventRecorder
	eventBroadcaster  record.EventBroadcaster
	newCurveCertBytes func(name string) ([]byte, error)
	now               func() time.Time

	// settling holds, per MiniCluster whose status write is being held
	// back while its brokers settle, when the holding began.
	settlingLock sync.Mutex
	settling     map[cache.ObjectName]time.Time
}

// ManagedSelector is the label selector the controller's Kubernetes
// informers must be built with (kubeinformers.WithTweakListOptions), so they
// cache only objects the controller manages.
const ManagedSelector = v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue

// NewController wires the informers to the workqueue. kubeInformers must be
// filtered with ManagedSelector; both factories must be started by the
// caller after NewController returns.
func NewController(
	ctx context.Context,
	kubeClient kubernetes.Interface,
	elasticClient clientset.Interface,
	kubeInformers kubeinformers.SharedInformerFactory,
	elasticInformers informers.SharedInformerFactory,
	config Config,
) (*Controller, error) {
	logger := klog.FromContext(ctx)
	utilruntime.Must(elasticfluxscheme.AddToScheme(scheme.Scheme))

	mcInformer := elasticInformers.Elasticflux().V1alpha1().MiniClusters()
	jobInformer := kubeInformers.Batch().V1().Jobs()
	serviceInformer := kubeInformers.Core().V1().Services()
	configMapInformer := kubeInformers.Core().V1().ConfigMaps()
	secretInformer := kubeInformers.Core().V1().Secrets()
	serviceAccountInformer := kubeInformers.Core().V1().ServiceAccounts()
	roleInformer := kubeInformers.Rbac().V1().Roles()
	roleBindingInformer := kubeInformers.Rbac().V1().RoleBindings()
	pdbInformer := kubeInformers.Policy().V1().PodDisruptionBudgets()

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(4)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubeClient.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "elasticflux-controller"})

	c := &Controller{
		kubeClient:       kubeClient,
		elasticClient:    elasticClient,
		config:           config.withDefaults(),
		miniClusters:     mcInformer.Lister(),
		jobs:             jobInformer.Lister(),
		services:         serviceInformer.Lister(),
		configMaps:       configMapInformer.Lister(),
		secrets:          secretInformer.Lister(),
		serviceAccounts:  serviceAccountInformer.Lister(),
		roles:            roleInformer.Lister(),
		roleBindings:     roleBindingInformer.Lister(),
		pdbs:             pdbInformer.Lister(),
		recorder:         recorder,
		eventBroadcaster: broadcaster,
		workqueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: "miniclusters"},
		),
		newCurveCertBytes: newCurveCertificate,
		now:               time.Now,
		settling:          map[cache.ObjectName]time.Time{},
	}

	for _, informer := range []cache.SharedIndexInformer{
		mcInformer.Informer(), jobInformer.Informer(), serviceInformer.Informer(), configMapInformer.Informer(),
		secretInformer.Informer(), serviceAccountInformer.Informer(), roleInformer.Informer(), roleBindingInformer.Informer(),
		pdbInformer.Informer(),
	} {
		if err := informer.SetTransform(trimForCache); err != nil {
			return nil, fmt.Errorf("trimming cached objects: %w", err)
		}
	}

	c.cachesSynced = []cache.InformerSynced{mcInformer.Informer().HasSynced}
	if _, err := mcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("watching miniclusters: %w", err)
	}

	// A Job's status moves in several small updates while brokers start;
	// waiting StatusBatchPeriod folds them into one status write.
	jobHandler := c.ownedObjectHandler(c.config.StatusBatchPeriod)
	if _, err := jobInformer.Informer().AddEventHandler(jobHandler); err != nil {
		return nil, fmt.Errorf("watching jobs: %w", err)
	}
	c.cachesSynced = append(c.cachesSynced, jobInformer.Informer().HasSynced)

	for _, informer := range []cache.SharedIndexInformer{
		serviceInformer.Informer(), configMapInformer.Informer(), secretInformer.Informer(),
		serviceAccountInformer.Informer(), roleInformer.Informer(), roleBindingInformer.Informer(),
		pdbInformer.Informer(),
	} {
		if _, err := informer.AddEventHandler(c.ownedObjectHandler(0)); err != nil {
			return nil, fmt.Errorf("watching owned objects: %w", err)
		}
		c.cachesSynced = append(c.cachesSynced, informer.HasSynced)
	}
	logger.V(4).Info("Controller wired")
	return c, nil
}

// Run waits for the caches, then runs workers until ctx is done. It
// returns only once every worker has finished its MiniCluster (their API
// calls end with ctx), so a caller that holds a leader Lease can release
// it knowing nothing more will be written. cacheSyncTimeout bounds the wait
// for the caches (zero: no bound): a controller that cannot fill them, e.g.
// because it may not list what it manages, fails instead of doing nothing.
func (c *Controller) Run(ctx context.Context, workers int, cacheSyncTimeout time.Duration) error {
	defer utilruntime.HandleCrash()
	defer c.eventBroadcaster.Shutdown()
	defer c.workqueue.ShutDown()
	logger := klog.FromContext(ctx)

	logger.Info("Starting MiniCluster controller")
	syncCtx := ctx
	if cacheSyncTimeout > 0 {
		var cancel context.CancelFunc
		syncCtx, cancel = context.WithTimeout(ctx, cacheSyncTimeout)
		defer cancel()
	}
	if !cache.WaitForNamedCacheSyncWithContext(syncCtx, c.cachesSynced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the informer caches did not sync within %v: check that the controller may list and watch what it manages", cacheSyncTimeout)
	}
	logger.Info("Starting workers", "count", workers)
	var running sync.WaitGroup
	for range workers {
		running.Go(func() { wait.UntilWithContext(ctx, c.runWorker, time.Second) })
	}
	<-ctx.Done()
	logger.Info("Shutting down workers")
	// Workers take no new key once the queue is shut down; wait for the
	// ones they hold.
	c.workqueue.ShutDown()
	running.Wait()
	logger.Info("Workers stopped")
	return nil
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

// processNextWorkItem takes one key off the queue and syncs it. A transient
// error requeues the key with backoff; success forgets its failure history.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, shutdown := c.workqueue.Get()
	if shutdown {
		return false
	}
	defer c.workqueue.Done(key)

	logger := klog.LoggerWithValues(klog.FromContext(ctx), "minicluster", key)
	ctx = klog.NewContext(ctx, logger)
	start := c.now()
	result, err := c.syncHandler(ctx, key)
	observeSync(start, c.now(), err)
	switch {
	case err != nil:
		c.workqueue.AddRateLimited(key)
		utilruntime.HandleErrorWithContext(ctx, err, "Syncing MiniCluster failed; will retry")
	case result.requeueAfter > 0:
		c.workqueue.Forget(key)
		c.workqueue.AddAfter(key, result.requeueAfter)
	default:
		c.workqueue.Forget(key)
	}
	return true
}

// enqueue queues a MiniCluster by its namespace/name key.
func (c *Controller) enqueue(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	key, err := cache.ObjectToName(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.workqueue.Add(key)
}

// ownedObjectHandler maps an owned object to the MiniCluster that controls
// it and queues that, after delay when delay > 0.
func (c *Controller) ownedObjectHandler(delay time.Duration) cache.ResourceEventHandler {
	handle := func(obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		owner, namespace, ok := controllingMiniCluster(obj)
		if !ok {
			return
		}
		key := cache.ObjectName{Namespace: namespace, Name: owner}
		if delay > 0 {
			c.workqueue.AddAfter(key, delay)
			return
		}
		c.workqueue.Add(key)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: handle,
		UpdateFunc: func(oldObj, newObj any) {
			// Periodic resyncs resend unchanged objects; nothing to do.
			if o, n := metaOf(oldObj), metaOf(newObj); o != nil && n != nil && o.GetResourceVersion() == n.GetResourceVersion() {
				return
			}
			handle(newObj)
		},
		DeleteFunc: handle,
	}
}
