package progress

import (
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// AutoRollbackOptions opt layers in to automatic rollback.
type AutoRollbackOptions struct {
	// Layers lists the layers rolled back automatically when the Applications of a cluster
	// they affect fail to sync or go Degraded within Window of a publish.
	Layers LayerPatterns
	Window time.Duration
}

// DefaultRollbackWindow is the auto-rollback window when none is given.
const DefaultRollbackWindow = 10 * time.Minute

// LayerPatterns match layer names (config.LayerPatterns).
type LayerPatterns = config.LayerPatterns

// ParseLayerPatterns checks a list of layer patterns (config.ParseLayerPatterns).
func ParseLayerPatterns(list []string) (LayerPatterns, error) { return config.ParseLayerPatterns(list) }
