package store

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Key attributes and the fixed parts of keys (see doc.go).
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrDraft     = "$draft"
	draftDelete   = "delete"
	headSK        = "head"
	registryPK    = "registry"
	registryLayer = "layer#"
	// changesPK is the partition of the change counter (sk changeSeqSK): its own, so that
	// serve may move it without any write access to the registry.
	changesPK = "changes"
	// changeSeqSK is the sort key of the change counter (pk changesPK; before the key
	// layout of upgrade.go, pk "registry").
	changeSeqSK   = "seq"
	versionPrefix = "v#"
	draftPrefix   = "draft#"
	auditPrefix   = "audit#"
	// auditTime is a fixed-width UTC time, so audit sort keys sort by time.
	auditTime = "2006-01-02T15:04:05.000000000Z"
)

// Actions recorded in heads and audit items.
const (
	ActionPublish  = "publish"
	ActionRollback = "rollback"
)

// layerPK is the partition key of a layer: global, env#<e>, cluster#<c>.
func layerPK(ref config.LayerRef) string {
	switch ref.Scope {
	case config.ScopeEnv:
		return "env#" + ref.Name
	case config.ScopeCluster:
		return "cluster#" + ref.Name
	default:
		return "global"
	}
}

// refFromPK parses a layer partition key.
func refFromPK(pk string) (config.LayerRef, bool) {
	if pk == "global" {
		return config.GlobalLayer, true
	}
	scope, name, ok := strings.Cut(pk, "#")
	if !ok || name == "" {
		return config.LayerRef{}, false
	}
	switch scope {
	case "env":
		return config.EnvLayer(name), true
	case "cluster":
		return config.ClusterLayer(name), true
	}
	return config.LayerRef{}, false
}

func versionSK(v int) string { return fmt.Sprintf("%s%010d", versionPrefix, v) }

func entrySK(v int, kind, key string) string { return versionSK(v) + "#" + kind + "#" + key }

func draftSK(kind, key string) string { return draftPrefix + kind + "#" + key }

func registrySK(ref config.LayerRef) string { return registryLayer + layerPK(ref) }

func auditSK(at time.Time, id string) string {
	return auditPrefix + at.UTC().Format(auditTime) + "#" + id
}

// checkRef refuses layer references that are not valid layer names (they become keys).
func checkRef(ref config.LayerRef) error {
	if ref.Scope < config.ScopeGlobal || ref.Scope > config.ScopeCluster {
		return fmt.Errorf("invalid layer scope %d", ref.Scope)
	}
	if ref.Scope == config.ScopeGlobal {
		if ref.Name != "" {
			return fmt.Errorf("the global layer has no name (got %q)", ref.Name)
		}
		return nil
	}
	if _, err := config.ParseLayerRef(ref.String()); err != nil {
		return err
	}
	return nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// keyOf returns the pk and sk of an item ("" when absent).
func keyOf(item map[string]types.AttributeValue) (pk, sk string) {
	if v, ok := item[attrPK].(*types.AttributeValueMemberS); ok {
		pk = v.Value
	}
	if v, ok := item[attrSK].(*types.AttributeValueMemberS); ok {
		sk = v.Value
	}
	return pk, sk
}

// --- structured items (head, registry, version metadata, audit) ---

// clusterRecord is the cluster record carried by the head, registry and version items of a
// cluster layer, so that generation reads and listings need not read the entries.
type clusterRecord struct {
	Name        string            `dynamodbav:"name"`
	Environment string            `dynamodbav:"environment"`
	Region      string            `dynamodbav:"region"`
	Projects    []string          `dynamodbav:"projects,omitempty"`
	Labels      map[string]string `dynamodbav:"labels,omitempty"`
	Vars        map[string]string `dynamodbav:"vars,omitempty"`
}

func (r *clusterRecord) cluster() *config.Cluster {
	if r == nil {
		return nil
	}
	return &config.Cluster{
		Name:        r.Name,
		Environment: r.Environment,
		Region:      r.Region,
		Projects:    append([]string(nil), r.Projects...),
		Labels:      copyStrings(r.Labels),
		Vars:        copyStrings(r.Vars),
	}
}

// recordOf is the cluster record of a cluster layer's entries as config.RecordOf decodes it
// (nil when there is no entry of kind cluster), in the shape the items carry.
func recordOf(entries []config.Entry) *clusterRecord {
	return clusterRecordOf(config.RecordOf(entries))
}

// clusterRecordOf is a cluster record in the shape the items carry (nil for nil).
func clusterRecordOf(c *config.Cluster) *clusterRecord {
	if c == nil {
		return nil
	}
	return &clusterRecord{Name: c.Name, Environment: c.Environment, Region: c.Region, Projects: c.Projects, Labels: c.Labels, Vars: c.Vars}
}

func copyStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// headItem is a layer's head (sk "head") and, with pk "registry", its mirror.
type headItem struct {
	PK       string         `dynamodbav:"pk"`
	SK       string         `dynamodbav:"sk"`
	Layer    string         `dynamodbav:"layer"`
	Version  int            `dynamodbav:"version"`
	Previous int            `dynamodbav:"previous"`
	At       string         `dynamodbav:"at"`
	Actor    string         `dynamodbav:"actor,omitempty"`
	Caller   string         `dynamodbav:"callerArn,omitempty"`
	Message  string         `dynamodbav:"message,omitempty"`
	TraceID  string         `dynamodbav:"traceId,omitempty"`
	Digest   string         `dynamodbav:"digest"`
	Entries  int            `dynamodbav:"entries"`
	Action   string         `dynamodbav:"action"`
	Cluster  *clusterRecord `dynamodbav:"cluster,omitempty"`
}

func headItemOf(h Head) headItem {
	return headItem{
		PK:       layerPK(h.Ref),
		SK:       headSK,
		Layer:    h.Ref.String(),
		Version:  h.Version,
		Previous: h.Previous,
		At:       h.At.UTC().Format(timeFormat),
		Actor:    h.Actor,
		Caller:   h.CallerArn,
		Message:  h.Message,
		TraceID:  h.TraceID,
		Digest:   h.Digest,
		Entries:  h.Entries,
		Action:   h.Action,
		Cluster:  clusterRecordOf(h.Cluster),
	}
}

func (it headItem) head(ref config.LayerRef) (Head, error) {
	at, err := parseAt(it.PK, it.SK, it.At)
	if err != nil {
		return Head{}, err
	}
	return Head{
		Ref: ref, Version: it.Version, Previous: it.Previous, At: at,
		Actor: it.Actor, CallerArn: it.Caller, Message: it.Message, TraceID: it.TraceID,
		Digest: it.Digest, Entries: it.Entries, Action: it.Action,
		Cluster: it.Cluster.cluster(),
	}, nil
}

// decodeHead decodes a head or registry item; the layer comes from pk (head) or sk
// (registry).
func decodeHead(item map[string]types.AttributeValue) (Head, error) {
	pk, sk := keyOf(item)
	var it headItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Head{}, invalidItem(pk, sk, "not a head item: %s", avError(err))
	}
	layerKey := pk
	if pk == registryPK {
		layerKey = strings.TrimPrefix(sk, registryLayer)
	}
	ref, ok := refFromPK(layerKey)
	if !ok {
		return Head{}, invalidItem(pk, sk, "does not name a layer")
	}
	// A global or environment layer's head is at 0 once a rollout of its first version was
	// rolled back (see Rollback); a cluster layer's never is.
	if it.Version < 0 || (it.Version == 0 && ref.Scope == config.ScopeCluster) {
		return Head{}, invalidItem(pk, sk, "version must be a positive number")
	}
	return it.head(ref)
}

// versionItem is the metadata item of a version (sk "v#0000000012"): written with
// published=false when the number is claimed, set to true by the publish transaction.
type versionItem struct {
	PK        string         `dynamodbav:"pk"`
	SK        string         `dynamodbav:"sk"`
	Layer     string         `dynamodbav:"layer"`
	Version   int            `dynamodbav:"version"`
	Based     int            `dynamodbav:"based"`
	At        string         `dynamodbav:"at"`
	Actor     string         `dynamodbav:"actor,omitempty"`
	Caller    string         `dynamodbav:"callerArn,omitempty"`
	Message   string         `dynamodbav:"message,omitempty"`
	TraceID   string         `dynamodbav:"traceId,omitempty"`
	Digest    string         `dynamodbav:"digest"`
	Entries   int            `dynamodbav:"entries"`
	Published bool           `dynamodbav:"published"`
	Cluster   *clusterRecord `dynamodbav:"cluster,omitempty"`
	// Removing marks an interrupted version whose entries RemoveOrphan deletes (or deleted).
	Removing bool `dynamodbav:"removing,omitempty"`
}

func decodeVersion(item map[string]types.AttributeValue) (versionItem, error) {
	pk, sk := keyOf(item)
	var it versionItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return it, invalidItem(pk, sk, "not a version metadata item: %s", avError(err))
	}
	if sk != versionSK(it.Version) {
		return it, invalidItem(pk, sk, "its version attribute (%d) does not match its sort key", it.Version)
	}
	if it.Entries < 0 {
		return it, invalidItem(pk, sk, "entries must not be negative")
	}
	return it, nil
}

func (it versionItem) info(ref config.LayerRef) (VersionInfo, error) {
	at, err := parseAt(it.PK, it.SK, it.At)
	if err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{
		Ref: ref, Version: it.Version, Based: it.Based, At: at, Actor: it.Actor, CallerArn: it.Caller,
		Message: it.Message, TraceID: it.TraceID, Digest: it.Digest, Entries: it.Entries,
		Published: it.Published, Removed: it.Removing,
	}, nil
}

// auditItem records a publish or rollback (sk "audit#<time>#<trace id>").
type auditItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Layer   string `dynamodbav:"layer"`
	Action  string `dynamodbav:"action"`
	From    int    `dynamodbav:"from"`
	To      int    `dynamodbav:"to"`
	At      string `dynamodbav:"at"`
	Actor   string `dynamodbav:"actor,omitempty"`
	Caller  string `dynamodbav:"callerArn,omitempty"`
	Message string `dynamodbav:"message,omitempty"`
	TraceID string `dynamodbav:"traceId,omitempty"`
}

func decodeAudit(ref config.LayerRef, item map[string]types.AttributeValue) (AuditRecord, error) {
	pk, sk := keyOf(item)
	var it auditItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return AuditRecord{}, invalidItem(pk, sk, "not an audit item: %s", avError(err))
	}
	at, err := parseAt(pk, sk, it.At)
	if err != nil {
		return AuditRecord{}, err
	}
	return AuditRecord{Ref: ref, Action: it.Action, From: it.From, To: it.To, At: at,
		Actor: it.Actor, CallerArn: it.Caller, Message: it.Message, TraceID: it.TraceID}, nil
}

// parseAt reads the time attribute "at" of item pk/sk, as timeFormat wrote it; an item
// without one has the zero time. A value that is not a time (an item edited by hand) is an
// ErrInvalidItem naming the item and the attribute, not a silent zero time.
func parseAt(pk, sk, at string) (time.Time, error) {
	if at == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, invalidItem(pk, sk, "attribute %s is not a time such as %s", attrAt, timeFormat)
	}
	return t, nil
}

// avError describes an attributevalue decoding error by its type only: its text can quote
// the offending value.
func avError(err error) string {
	switch err.(type) {
	case *attributevalue.UnmarshalTypeError:
		return "an attribute has the wrong type"
	default:
		return "it cannot be decoded"
	}
}

func marshalItem(v any) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return item, nil
}

// --- entry bodies ---

// reservedFields may not appear in an entry body: they are the item's keys.
var reservedFields = map[string]bool{attrPK: true, attrSK: true, attrDraft: true}

// bodyItem turns an entry body into an item with the given keys: the body's fields become
// top-level attributes, so the item reads in the console as the entry does in a file.
func bodyItem(pk, sk string, e config.Entry) (map[string]types.AttributeValue, error) {
	item := make(map[string]types.AttributeValue, len(e.Body)+2)
	for k, v := range e.Body {
		if reservedFields[k] {
			return nil, fmt.Errorf("%s %s: a field named %q is not allowed (it is a key attribute of the table)", e.Kind, e.Key, k)
		}
		av, err := toAttr(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s: field %s: %w", e.Kind, e.Key, k, err)
		}
		item[k] = av
	}
	item[attrPK] = &types.AttributeValueMemberS{Value: pk}
	item[attrSK] = &types.AttributeValueMemberS{Value: sk}
	return item, nil
}

// toAttr encodes a value of an entry body. It is the project's own, not the SDK's
// attributevalue.Marshal, because the two spell numbers differently: the SDK writes a
// fraction in plain decimal (1234567.5, 0.00001) where tables already hold Go's shortest form
// (1.2345675e+06, 1e-05), and it would rewrite a published entry's items on the next publish
// of the same body; TestItemFormatPinned pins the spelling. Items of the store's own records
// are encoded by the SDK (marshalItem). Likewise itemBody decodes integers as int64, where the
// SDK's decoding into any gives float64 and loses integers above 2^53.
func toAttr(v any) (types.AttributeValue, error) {
	switch t := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: t}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: t}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(t, 10)}, nil
	case int:
		return &types.AttributeValueMemberN{Value: strconv.Itoa(t)}, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v is not a number DynamoDB can store", t)
		}
		return &types.AttributeValueMemberN{Value: strconv.FormatFloat(t, 'g', -1, 64)}, nil
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(t))
		for k, e := range t {
			av, err := toAttr(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case []any:
		l := make([]types.AttributeValue, len(t))
		for i, e := range t {
			av, err := toAttr(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
}

// itemBody returns the attributes of an item other than its keys (and the draft marker) as
// an entry body: strings, booleans, null, maps, lists, and numbers as int64 when integral
// (so large integers survive exactly) else float64. String and number sets read as lists.
func itemBody(item map[string]types.AttributeValue) (map[string]any, error) {
	body := make(map[string]any, len(item))
	for k, av := range item {
		if k == attrPK || k == attrSK || k == attrDraft {
			continue
		}
		v, err := fromAttr(av)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		body[k] = v
	}
	return body, nil
}

func fromAttr(av types.AttributeValue) (any, error) {
	switch t := av.(type) {
	case *types.AttributeValueMemberS:
		return t.Value, nil
	case *types.AttributeValueMemberN:
		return parseNumber(t.Value)
	case *types.AttributeValueMemberBOOL:
		return t.Value, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(t.Value))
		for k, e := range t.Value {
			v, err := fromAttr(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = v
		}
		return m, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(t.Value))
		for i, e := range t.Value {
			v, err := fromAttr(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = v
		}
		return l, nil
	case *types.AttributeValueMemberSS:
		l := make([]any, len(t.Value))
		for i, s := range t.Value {
			l[i] = s
		}
		return l, nil
	case *types.AttributeValueMemberNS:
		l := make([]any, len(t.Value))
		for i, s := range t.Value {
			n, err := parseNumber(s)
			if err != nil {
				return nil, err
			}
			l[i] = n
		}
		return l, nil
	case *types.AttributeValueMemberB, *types.AttributeValueMemberBS:
		return nil, fmt.Errorf("binary values are not supported (use strings, numbers, booleans, lists and maps)")
	default:
		return nil, fmt.Errorf("unsupported attribute type %T", av)
	}
}

func parseNumber(s string) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeError(err) {
		return nil, fmt.Errorf("malformed number")
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), nil
	}
	return f, nil
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// entryFromItem converts an entry item of version v back into an entry: the body is
// canonicalised by config.NewEntry and the key it derives must equal the key in sk.
func entryFromItem(item map[string]types.AttributeValue, v int) (config.Entry, error) {
	pk, sk := keyOf(item)
	rest, ok := strings.CutPrefix(sk, versionSK(v)+"#")
	if !ok {
		return config.Entry{}, invalidItem(pk, sk, "not an entry of version %d", v)
	}
	return decodeEntry(pk, sk, rest, item)
}

// decodeEntry builds an entry from "<kind>#<key>" and the item's body.
func decodeEntry(pk, sk, kindKey string, item map[string]types.AttributeValue) (config.Entry, error) {
	kind, key, ok := cutKindKey(kindKey)
	if !ok {
		return config.Entry{}, invalidItem(pk, sk, "the sort key must end in <kind>#<key>")
	}
	if !config.IsKind(kind) {
		return config.Entry{}, invalidItem(pk, sk, "unknown entry kind %q", kind)
	}
	body, err := itemBody(item)
	if err != nil {
		return config.Entry{}, invalidItem(pk, sk, "%v", err)
	}
	e, err := config.NewEntry(kind, body)
	if err != nil {
		return config.Entry{}, invalidItem(pk, sk, "not a valid %s entry: %v", kind, err)
	}
	if e.Key != key {
		return config.Entry{}, invalidItem(pk, sk, "the entry's own fields name it %q, its sort key names it %q", e.Key, key)
	}
	return e, nil
}

// cutKindKey splits "<kind>#<key>" (the key may itself hold '#').
func cutKindKey(s string) (kind, key string, ok bool) {
	kind, key, ok = strings.Cut(s, "#")
	return kind, key, ok && kind != "" && key != ""
}

// prepareEntries canonicalises entries for writing: each body is normalised and passed
// through config.NewEntry, whose key must match the entry's; duplicates are refused.
func prepareEntries(entries []config.Entry) ([]config.Entry, error) {
	out := make([]config.Entry, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if seen[e.ID()] {
			return nil, fmt.Errorf("entry %s appears twice", e.ID())
		}
		seen[e.ID()] = true
		for k := range e.Body {
			if reservedFields[k] {
				return nil, fmt.Errorf("entry %s: a field named %q is not allowed (it is a key attribute of the table)", e.ID(), k)
			}
		}
		body, err := config.NormalizeBody(e.Body)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		n, err := config.NewEntry(e.Kind, body)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", e.ID(), err)
		}
		if n.Key != e.Key {
			return nil, fmt.Errorf("entry %s: its fields name it %q", e.ID(), n.Key)
		}
		out = append(out, n)
	}
	config.SortEntries(out)
	return out, nil
}

// sortHeads orders heads global, env layers, cluster layers, each by name.
func sortHeads(heads []Head) {
	sort.Slice(heads, func(i, j int) bool {
		a, b := heads[i].Ref, heads[j].Ref
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return a.Name < b.Name
	})
}
