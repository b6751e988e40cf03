package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// LayoutMove is one step of UpgradeLayout: an item at a legacy key moved to its current key
// (To set), or removed because the current key already holds a newer item (To empty).
type LayoutMove struct {
	From ItemKey
	To   ItemKey
	// Why says what the item is ("the rollout of env/prod").
	Why string
}

// Superseded tells whether the legacy item was removed without being copied.
func (m LayoutMove) Superseded() bool { return m.To == (ItemKey{}) }

// UpgradeLayout moves the items an earlier release kept at the legacy keys to the current
// layout (layout.go): rollouts from the registry partition to the rollout partition, the
// change counter from the registry to its own partition (its value added, so the sum watchers
// read does not move), and each cluster's last-known-good and observation items from the
// cluster layer's partition to their own. Each move is one TransactWriteItems — the put at the
// current key and the delete of the legacy item, both conditional on what was read — so an
// item is never lost nor doubled, and a writer racing the upgrade makes the move fail
// (ErrConflict: run it again) rather than lose its write. When the current key already holds
// a newer item (written by this release), the legacy one is only deleted. It is idempotent:
// a table at the current layout has nothing to move. With dryRun nothing is written.
func (s *Store) UpgradeLayout(ctx context.Context, dryRun bool) ([]LayoutMove, error) {
	registry, _, err := s.queryAll(ctx, partitionQuery(registryPK))
	if err != nil {
		return nil, fmt.Errorf("upgrade the key layout: read the registry: %w", err)
	}
	type candidate struct {
		legacy  map[string]types.AttributeValue
		current map[string]types.AttributeValue // nil: absent
		to      ItemKey
		why     string
		kind    string // rollout, seq, serve
	}
	var cands []*candidate
	byKey := map[string]*candidate{} // current key -> candidate
	var keys []map[string]types.AttributeValue
	addCand := func(c *candidate) {
		cands = append(cands, c)
		byKey[c.to.String()] = c
		keys = append(keys, key(c.to.PK, c.to.SK))
	}
	var clusterKeys []map[string]types.AttributeValue
	for _, item := range registry {
		_, sk := keyOf(item)
		switch {
		case strings.HasPrefix(sk, legacyRolloutPrefix):
			r, err := decodeRollout(item)
			if err != nil {
				return nil, err
			}
			addCand(&candidate{legacy: item, to: ItemKey{rolloutPK, layerPK(r.Layer)}, why: "the rollout of " + r.Layer.String(), kind: "rollout"})
		case sk == changeSeqSK:
			if _, err := seqOf(item); err != nil {
				return nil, err
			}
			addCand(&candidate{legacy: item, to: ItemKey{changesPK, changeSeqSK}, why: "the change counter", kind: "seq"})
		case strings.HasPrefix(sk, registryLayer+"cluster#"):
			pk := strings.TrimPrefix(sk, registryLayer)
			clusterKeys = append(clusterKeys, key(pk, lkgSK), key(pk, observedSK))
		}
	}
	if len(clusterKeys) > 0 {
		items, _, err := s.batchGet(ctx, clusterKeys)
		if err != nil {
			return nil, fmt.Errorf("upgrade the key layout: read the clusters' last-known-good and observation items: %w", err)
		}
		for _, item := range items {
			pk, sk := keyOf(item)
			ref, _ := refFromPK(pk)
			prefix, what := lkgPrefix, "the last known good version of cluster "
			if sk == observedSK {
				prefix, what = observedPrefix, "what the Applications of cluster "
			}
			why := what + ref.Name
			if sk == observedSK {
				why += " reported"
			}
			addCand(&candidate{legacy: item, to: ItemKey{servePK(prefix, ref.Name), sk}, why: why, kind: "serve"})
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	current, _, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("upgrade the key layout: read the current keys: %w", err)
	}
	for _, item := range current {
		pk, sk := keyOf(item)
		if c := byKey[ItemKey{pk, sk}.String()]; c != nil {
			c.current = item
		}
	}

	var moves []LayoutMove
	for _, c := range cands {
		lpk, lsk := keyOf(c.legacy)
		move := LayoutMove{From: ItemKey{lpk, lsk}, To: c.to, Why: c.why}
		var tx []types.TransactWriteItem
		del := &types.Delete{TableName: aws.String(s.table), Key: key(lpk, lsk)}
		switch c.kind {
		case "rollout":
			// Unchanged since read: the same rollout at the same revision.
			del.ConditionExpression = aws.String("id = :id AND rev = :rev")
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":id": c.legacy["id"], ":rev": c.legacy["rev"]}
			if c.current == nil {
				tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: rekey(c.legacy, c.to),
					ConditionExpression: aws.String("attribute_not_exists(pk)")}})
			}
		case "seq":
			n, _ := seqOf(c.legacy)
			del.ConditionExpression = aws.String("seq = :n")
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":n": c.legacy["seq"]}
			if n != 0 {
				at := c.legacy["at"]
				if at == nil {
					at = &types.AttributeValueMemberS{Value: s.now().UTC().Format(timeFormat)}
				}
				tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: key(c.to.PK, c.to.SK),
					UpdateExpression:          aws.String("ADD seq :n SET #at = :at"),
					ExpressionAttributeNames:  map[string]string{"#at": "at"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":n": c.legacy["seq"], ":at": at}}})
			} else {
				move.To = ItemKey{}
			}
		default:
			at := stringAttr(c.legacy, "at")
			del.ConditionExpression = aws.String("#at = :at")
			del.ExpressionAttributeNames = map[string]string{"#at": "at"}
			del.ExpressionAttributeValues = map[string]types.AttributeValue{":at": &types.AttributeValueMemberS{Value: at}}
			switch {
			case c.current == nil:
				tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: rekey(c.legacy, c.to),
					ConditionExpression: aws.String("attribute_not_exists(pk)")}})
			case stringAttr(c.current, "at") < at:
				tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: rekey(c.legacy, c.to),
					ConditionExpression:       aws.String("#at = :cur"),
					ExpressionAttributeNames:  map[string]string{"#at": "at"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":cur": &types.AttributeValueMemberS{Value: stringAttr(c.current, "at")}}}})
			}
		}
		if c.kind != "seq" && len(tx) == 0 {
			move.To = ItemKey{} // the current key holds a newer item: the legacy one goes
		}
		tx = append(tx, types.TransactWriteItem{Delete: del})
		if !dryRun {
			_, err := s.transactWriteItemsRaw(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
			var tce *types.TransactionCanceledException
			switch {
			case errors.As(err, &tce):
				return moves, newError(ErrConflict, "upgrade the key layout: %s (%s) changed while it was being moved, and was left where it is; run `dynamo-cmp table upgrade` again", c.why, move.From)
			case err != nil:
				return moves, fmt.Errorf("upgrade the key layout: move %s (%s): %w", c.why, move.From, s.mapError("TransactWriteItems", err))
			}
		}
		moves = append(moves, move)
	}
	return moves, nil
}

// rekey returns a copy of item with the keys of to.
func rekey(item map[string]types.AttributeValue, to ItemKey) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = v
	}
	out[attrPK] = &types.AttributeValueMemberS{Value: to.PK}
	out[attrSK] = &types.AttributeValueMemberS{Value: to.SK}
	return out
}
