package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Drafts returns the draft entries of a layer (items "draft#<kind>#<key>"), in canonical
// entry order. An item with "$draft": "delete" is a removal; its body may be empty.
func (s *Store) Drafts(ctx context.Context, ref config.LayerRef) ([]Draft, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	items, _, err := s.queryAll(ctx, prefixQuery(layerPK(ref), draftPrefix))
	if err != nil {
		return nil, fmt.Errorf("read the drafts of layer %s: %w", ref, err)
	}
	drafts := make([]Draft, 0, len(items))
	for _, item := range items {
		d, err := decodeDraft(item)
		if err != nil {
			return nil, err
		}
		drafts = append(drafts, d)
	}
	entries := make([]config.Entry, len(drafts))
	byID := make(map[string]Draft, len(drafts))
	for i, d := range drafts {
		entries[i] = d.Entry
		byID[d.Entry.ID()] = d
	}
	config.SortEntries(entries)
	for i, e := range entries {
		drafts[i] = byID[e.ID()]
	}
	return drafts, nil
}

func decodeDraft(item map[string]types.AttributeValue) (Draft, error) {
	pk, sk := keyOf(item)
	kindKey := sk[len(draftPrefix):]
	var del bool
	if av, ok := item[attrDraft]; ok {
		mark, isString := av.(*types.AttributeValueMemberS)
		if !isString || mark.Value != draftDelete {
			return Draft{}, invalidItem(pk, sk, "%q must be %q (or absent)", attrDraft, draftDelete)
		}
		del = true
	}
	if !del {
		e, err := decodeEntry(pk, sk, kindKey, item)
		if err != nil {
			return Draft{}, err
		}
		return Draft{Entry: e}, nil
	}
	// A removal names its entry by the sort key; its body is whatever was left in it.
	kind, key, ok := cutKindKey(kindKey)
	if !ok {
		return Draft{}, invalidItem(pk, sk, "the sort key must end in <kind>#<key>")
	}
	if !config.IsKind(kind) {
		return Draft{}, invalidItem(pk, sk, "unknown entry kind %q", kind)
	}
	body, err := itemBody(item)
	if err != nil {
		return Draft{}, invalidItem(pk, sk, "%v", err)
	}
	return Draft{Entry: config.Entry{Kind: kind, Key: key, Body: body}, Delete: true}, nil
}

// PutDrafts writes draft entries (replacing drafts with the same kind and key).
func (s *Store) PutDrafts(ctx context.Context, ref config.LayerRef, drafts []Draft) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	pk := layerPK(ref)
	reqs := make([]types.WriteRequest, 0, len(drafts))
	seen := map[string]bool{}
	for _, d := range drafts {
		e := d.Entry
		if seen[e.ID()] {
			return fmt.Errorf("put drafts of %s: draft %s appears twice", ref, e.ID())
		}
		seen[e.ID()] = true
		if !config.IsKind(e.Kind) || e.Key == "" {
			return fmt.Errorf("put drafts of %s: draft %s: needs a known kind and a key", ref, e.ID())
		}
		if !d.Delete {
			prepared, err := prepareEntries([]config.Entry{e})
			if err != nil {
				return fmt.Errorf("put drafts of %s: %w", ref, err)
			}
			e = prepared[0]
		} else {
			body, err := config.NormalizeBody(e.Body)
			if err != nil {
				return fmt.Errorf("put drafts of %s: draft %s: %w", ref, e.ID(), err)
			}
			e.Body = body
		}
		item, err := bodyItem(pk, draftSK(e.Kind, e.Key), e)
		if err != nil {
			return fmt.Errorf("put drafts of %s: %w", ref, err)
		}
		if d.Delete {
			item[attrDraft] = &types.AttributeValueMemberS{Value: draftDelete}
		}
		if err := checkEntryItem("put drafts of "+ref.String()+": draft "+e.ID(), draftSK(e.Kind, e.Key), item); err != nil {
			return err
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("put drafts of %s: %w", ref, err)
	}
	return nil
}

// DeleteDrafts removes draft items (by kind and key; bodies are ignored), e.g. after they
// were published.
func (s *Store) DeleteDrafts(ctx context.Context, ref config.LayerRef, drafts []Draft) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	pk := layerPK(ref)
	reqs := make([]types.WriteRequest, 0, len(drafts))
	seen := map[string]bool{}
	for _, d := range drafts {
		if seen[d.Entry.ID()] {
			continue
		}
		seen[d.Entry.ID()] = true
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, draftSK(d.Entry.Kind, d.Entry.Key))}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("delete drafts of %s: %w", ref, err)
	}
	return nil
}

// DraftSK is the sort key of the draft of an entry, as the console shows it.
func DraftSK(kind, key string) string { return draftSK(kind, key) }
