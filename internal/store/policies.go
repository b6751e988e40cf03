package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
)

// Items of policies (see doc.go):
//   - a policy: pk "policy", sk "<name>", its fields as plain attributes (name, layers,
//     kinds, namespaces, clusterScoped, rbac, addons) next to who stored it when (at, actor);
//     generate reads the partition with one query, beside the layers;
//   - a change of a policy: pk "policy-audit", sk "<time>#<id>" (policy, action, at, actor,
//     and the policy as stored).
const (
	policyPK      = "policy"
	policyAuditPK = "policy-audit"
	attrAt        = "at"
	attrActor     = "actor"
	attrCaller    = "callerArn"
)

// Actions recorded in policy audit items.
const (
	PolicyStored   = "stored"
	PolicyReplaced = "replaced"
	PolicyDeleted  = "deleted"
)

// StoredPolicy is a policy and who stored it when.
type StoredPolicy struct {
	policy.Policy
	At time.Time
	// Actor is the free-text label; CallerArn the AWS principal that stored it (empty when
	// none was known).
	Actor     string
	CallerArn string
}

// PolicyChange is one audit record of a policy: stored, replaced or deleted.
type PolicyChange struct {
	Name      string
	Action    string
	At        time.Time
	Actor     string
	CallerArn string
	// Policy is the policy as stored (nil for a deletion).
	Policy *policy.Policy
}

type policyAuditItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Name   string `dynamodbav:"policy"`
	Action string `dynamodbav:"action"`
	At     string `dynamodbav:"at"`
	Actor  string `dynamodbav:"actor,omitempty"`
	Caller string `dynamodbav:"callerArn,omitempty"`
	Body   string `dynamodbav:"body,omitempty"`
}

// policyAV is a policy as a plain item: its fields as attributes, readable and editable in the
// console.
func policyAV(p policy.Policy, at time.Time, actor, caller string) (map[string]types.AttributeValue, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	fields[attrPK], fields[attrSK] = policyPK, p.Name
	fields[attrAt] = at.UTC().Format(timeFormat)
	if actor != "" {
		fields[attrActor] = actor
	}
	if caller != "" {
		fields[attrCaller] = caller
	}
	return marshalItem(fields)
}

// decodePolicy reads a policy item strictly: an attribute that is not a policy field, or a
// field that does not check, makes the item invalid, so a hand edit can neither widen a
// policy unseen nor be silently ignored.
func decodePolicy(item map[string]types.AttributeValue) (StoredPolicy, error) {
	pk, sk := keyOf(item)
	var fields map[string]any
	if err := attributevalue.UnmarshalMap(item, &fields); err != nil {
		return StoredPolicy{}, invalidItem(pk, sk, "not a policy item: %s", avError(err))
	}
	at, _ := fields[attrAt].(string)
	actor, _ := fields[attrActor].(string)
	caller, _ := fields[attrCaller].(string)
	for _, k := range []string{attrPK, attrSK, attrAt, attrActor, attrCaller} {
		delete(fields, k)
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return StoredPolicy{}, invalidItem(pk, sk, "not a policy item: %s", avError(err))
	}
	p, err := policy.Parse(body)
	if err != nil {
		return StoredPolicy{}, invalidItem(pk, sk, "%v", err)
	}
	if p.Name != sk {
		return StoredPolicy{}, invalidItem(pk, sk, "the policy is named %q, its sort key %q", p.Name, sk)
	}
	t, err := parseAt(pk, sk, at)
	if err != nil {
		return StoredPolicy{}, err
	}
	return StoredPolicy{Policy: p, At: t, Actor: actor, CallerArn: caller}, nil
}

// policiesQuery reads the policy partition.
func policiesQuery() *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: policyPK}},
		ConsistentRead:            aws.Bool(true),
	}
}

// Policies reads every policy, by name, with one query (more pages only past 1 MB).
func (s *Store) Policies(ctx context.Context) ([]StoredPolicy, error) {
	out, _, err := s.policies(ctx)
	return out, err
}

// policies is Policies that also returns the number of pages read.
func (s *Store) policies(ctx context.Context) ([]StoredPolicy, int, error) {
	items, pages, err := s.queryAll(ctx, policiesQuery())
	if err != nil {
		return nil, pages, fmt.Errorf("read the policies: %w", err)
	}
	out := make([]StoredPolicy, 0, len(items))
	for _, item := range items {
		p, err := decodePolicy(item)
		if err != nil {
			return nil, pages, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, pages, nil
}

// PolicySet returns the policies of stored policies.
func PolicySet(stored []StoredPolicy) policy.Set {
	set := make(policy.Set, len(stored))
	for i, p := range stored {
		set[i] = p.Policy
	}
	return set
}

// PutPolicy stores (or replaces) a policy, which must be valid, and records the change in the
// policy audit, in one BatchWriteItem. replaced says whether a policy of that name existed.
func (s *Store) PutPolicy(ctx context.Context, p policy.Policy, actor string, replaced bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	caller, err := s.writer(ctx, "store policy "+p.Name)
	if err != nil {
		return err
	}
	now := s.now()
	av, err := policyAV(p, now, actor, caller)
	if err != nil {
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	action := PolicyStored
	if replaced {
		action = PolicyReplaced
	}
	audit, err := policyAuditAV(p.Name, action, now, actor, caller, string(body))
	if err != nil {
		return err
	}
	if err := s.batchWrite(ctx, []types.WriteRequest{{PutRequest: &types.PutRequest{Item: av}}, {PutRequest: &types.PutRequest{Item: audit}}}); err != nil {
		return fmt.Errorf("store policy %s: %w", p.Name, s.mapError("BatchWriteItem", err))
	}
	return nil
}

func policyAuditAV(name, action string, at time.Time, actor, caller, body string) (map[string]types.AttributeValue, error) {
	return marshalItem(policyAuditItem{PK: policyAuditPK, SK: at.UTC().Format(auditTime) + "#" + traceid.New(),
		Name: name, Action: action, At: at.UTC().Format(timeFormat), Actor: actor, Caller: caller, Body: body})
}

// DeletePolicy removes a policy and records it in the policy audit; false when there was none
// of that name.
func (s *Store) DeletePolicy(ctx context.Context, name, actor string) (bool, error) {
	out, err := s.getItem(ctx, &dynamodb.GetItemInput{Key: key(policyPK, name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("delete policy %s: %w", name, err)
	}
	if out.Item == nil {
		return false, nil
	}
	caller, err := s.writer(ctx, "delete policy "+name)
	if err != nil {
		return false, err
	}
	audit, err := policyAuditAV(name, PolicyDeleted, s.now(), actor, caller, "")
	if err != nil {
		return false, err
	}
	if err := s.batchWrite(ctx, []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: key(policyPK, name)}}, {PutRequest: &types.PutRequest{Item: audit}}}); err != nil {
		return false, fmt.Errorf("delete policy %s: %w", name, s.mapError("BatchWriteItem", err))
	}
	return true, nil
}

// PolicyHistory returns the changes of policies, newest first; limit > 0 keeps the newest
// limit.
func (s *Store) PolicyHistory(ctx context.Context, limit int) ([]PolicyChange, error) {
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: policyAuditPK}},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	var out []PolicyChange
	for {
		if limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		}
		page, err := s.query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read the policy audit: %w", err)
		}
		for _, item := range page.Items {
			pk, sk := keyOf(item)
			var it policyAuditItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return nil, invalidItem(pk, sk, "not a policy audit item: %s", avError(err))
			}
			at, err := parseAt(pk, sk, it.At)
			if err != nil {
				return nil, err
			}
			ch := PolicyChange{Name: it.Name, Action: it.Action, At: at, Actor: it.Actor, CallerArn: it.Caller}
			if it.Body != "" {
				if p, err := policy.Parse([]byte(it.Body)); err == nil {
					ch.Policy = &p
				}
			}
			out = append(out, ch)
		}
		if len(page.LastEvaluatedKey) == 0 || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
