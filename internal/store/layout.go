package store

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// What dynamo-cmp serve writes lives in partitions of its own, so IAM can scope each of its
// credentials by partition key (dynamodb:LeadingKeys) away from the layers, the registry,
// the policies and the strategies (docs/security.md, manifests/iam):
//
//	pk                   sk          item                                       written by
//	lkg#<cluster>        lkg         last known good configVersion              serve (serve-last-known-good.json)
//	observed#<cluster>   observed    what the cluster's Applications report     serve (serve-rollouts.json)
//	rollout              <layer pk>  the layer's latest rollout in waves        publish, rollout commands, serve
//	changes              seq         the change counter                         every head move and served step
//
// Releases before this layout kept these items in other partitions (the legacy keys below):
// readers read both until `dynamo-cmp table upgrade` (UpgradeLayout) has moved them.
const (
	lkgPrefix      = "lkg#"
	observedPrefix = "observed#"
	rolloutPK      = "rollout"
)

// Legacy keys (before the layout above): last-known-good and observation items in the
// cluster layer's partition, rollouts and the change counter in the registry partition.
const (
	legacyRolloutPrefix = "rollout#" // pk registry, sk rollout#<layer pk>
)

// servePK is the partition of a cluster's item of one kind (lkg, observed).
func servePK(prefix, cluster string) string { return prefix + cluster }

// rolloutKey is the key of a layer's rollout item.
func rolloutKey(ref config.LayerRef) map[string]types.AttributeValue {
	return key(rolloutPK, layerPK(ref))
}

// legacyRolloutKey is where releases before this layout kept a layer's rollout item.
func legacyRolloutKey(ref config.LayerRef) map[string]types.AttributeValue {
	return key(registryPK, legacyRolloutPrefix+layerPK(ref))
}

// isRolloutItem tells whether an item read is a rollout item, at the current key or the legacy
// one.
func isRolloutItem(pk, sk string) (legacy, ok bool) {
	switch {
	case pk == rolloutPK:
		return false, true
	case pk == registryPK && strings.HasPrefix(sk, legacyRolloutPrefix):
		return true, true
	}
	return false, false
}

// clusterOfServePK returns the cluster a serve item's partition key names, at the current
// key (prefix + cluster) or the legacy one (the cluster layer's partition).
func clusterOfServePK(prefix, pk string) (cluster string, legacy, ok bool) {
	if c, found := strings.CutPrefix(pk, prefix); found && c != "" {
		return c, false, true
	}
	if ref, found := refFromPK(pk); found && ref.Scope == config.ScopeCluster {
		return ref.Name, true, true
	}
	return "", false, false
}

// ItemKey names an item by its keys (never its content).
type ItemKey struct {
	PK, SK string
}

func (l ItemKey) String() string { return l.PK + "/" + l.SK }
