package v1alpha1

// Labels the controller puts on what it manages.
const (
	// LabelMiniCluster marks a broker pod (and every object the controller
	// owns) with the name of its MiniCluster. It is the scale selector, so
	// it is set on broker pods only, never on anything else a user runs.
	LabelMiniCluster = "elasticflux.io/minicluster"
	// LabelManagedBy is the standard managed-by label; the controller's
	// informers watch only objects carrying it with ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on managed objects.
	ManagedByValue = "elasticflux"
)

// DesiredSize is spec.size, or its default when unset.
func (mc *MiniCluster) DesiredSize() int32 { return int32OrDefault(mc.Spec.Size, 1) }

// MinimumSize is spec.minSize, or its default when unset.
func (mc *MiniCluster) MinimumSize() int32 { return int32OrDefault(mc.Spec.MinSize, 1) }

// MaximumSize is the effective ceiling: spec.maxSize, else the ceiling the
// controller recorded at creation (status.maxSize), else the size itself (a
// fixed-size cluster before its first status write).
func (mc *MiniCluster) MaximumSize() int32 {
	switch {
	case mc.Spec.MaxSize != nil:
		return *mc.Spec.MaxSize
	case mc.Status.MaxSize > 0:
		return mc.Status.MaxSize
	default:
		return mc.DesiredSize()
	}
}

// SelfScaling reports whether the brokers may resize their own MiniCluster.
func (mc *MiniCluster) SelfScaling() bool {
	return mc.Spec.Elasticity != nil && mc.Spec.Elasticity.SelfScaling != nil && *mc.Spec.Elasticity.SelfScaling
}

func int32OrDefault(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}
