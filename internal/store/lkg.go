package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// lkgSK is the sort key of a cluster's last-known-good item (pk "lkg#<name>").
const lkgSK = "lkg"

// LastKnownGood is the last configVersion of a cluster whose Argo CD Applications all reached
// Synced/Healthy, as `dynamo-cmp serve` observed it. Replicas of serve share it through the
// table, so the service keeps no state of its own.
type LastKnownGood struct {
	Cluster string
	Version config.ConfigVersion
	// At is when the state was observed.
	At time.Time
	// TraceID is the trace id of the head move that led to this version.
	TraceID string
}

// lkgItem is the item of a LastKnownGood (pk "lkg#<name>", sk "lkg").
type lkgItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	Cluster       string `dynamodbav:"cluster"`
	ConfigVersion string `dynamodbav:"configVersion"`
	At            string `dynamodbav:"at"`
	TraceID       string `dynamodbav:"traceId,omitempty"`
}

// PutLastKnownGood records lkg with one conditional PutItem: it is written only when no record
// observed later is stored (a slow replica cannot overwrite a newer observation). written is
// false when a newer record won.
func (s *Store) PutLastKnownGood(ctx context.Context, lkg LastKnownGood) (written bool, err error) {
	ref := config.ClusterLayer(lkg.Cluster)
	if err := checkRef(ref); err != nil {
		return false, fmt.Errorf("last known good: %w", err)
	}
	at := lkg.At.UTC().Format(timeFormat)
	av, err := marshalItem(lkgItem{PK: servePK(lkgPrefix, lkg.Cluster), SK: lkgSK, Cluster: lkg.Cluster,
		ConfigVersion: lkg.Version.String(), At: at, TraceID: lkg.TraceID})
	if err != nil {
		return false, err
	}
	_, err = s.putItemRaw(ctx, &dynamodb.PutItemInput{
		Item:                     av,
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR #at <= :at"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": &types.AttributeValueMemberS{Value: at},
		},
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &failed):
		return false, nil
	default:
		return false, fmt.Errorf("record the last known good version of cluster %s: %w", lkg.Cluster, s.mapError("PutItem", err))
	}
}

// LastKnownGood reads the last-known-good records of clusters (strongly consistent
// BatchGetItem, 100 keys a call). Clusters without a record are absent from the map. A record
// still at the key of releases before the current layout is read too (the newer one wins)
// until `table upgrade` moves it.
func (s *Store) LastKnownGood(ctx context.Context, clusters ...string) (map[string]LastKnownGood, error) {
	items, err := s.clusterItems(ctx, lkgPrefix, lkgSK, "last known good versions", clusters)
	if err != nil {
		return nil, err
	}
	out := make(map[string]LastKnownGood, len(items))
	for name, item := range items {
		pk, sk := keyOf(item)
		var it lkgItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, invalidItem(pk, sk, "not a last-known-good item: %s", avError(err))
		}
		v, err := config.ParseConfigVersion(it.ConfigVersion)
		if err != nil {
			return nil, invalidItem(pk, sk, "configVersion: %v", err)
		}
		at, err := parseAt(pk, sk, it.At)
		if err != nil {
			return nil, err
		}
		out[name] = LastKnownGood{Cluster: name, Version: v, At: at, TraceID: it.TraceID}
	}
	return out, nil
}
