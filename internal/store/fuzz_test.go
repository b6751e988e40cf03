package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FuzzDecodeItem feeds arbitrary items, as a console edit can leave them, to the decoders of
// the read path. They must never panic; an item accepted as an entry must name itself in its
// sort key, and writing the entry back and reading it again must give the same entry (what
// the store reads it can publish unchanged); head and version metadata items are decoded
// too. The item comes as DynamoDB JSON ({"attr": {"S": "..."}, ...}).
func FuzzDecodeItem(f *testing.F) {
	f.Add("v#0000000001#namespace#dev-team", `{"namespace":{"S":"dev-team"},"labels":{"M":{"environment":{"S":"dev"},"team":{"S":"backend"}}},"annotations":{"M":{"purpose":{"S":"development"}}},"resourceQuota":{"M":{"cpu":{"S":"4"},"memory":{"S":"8Gi"}}}}`)
	f.Add("v#0000000001#cluster#dev-k3s", `{"name":{"S":"dev-k3s"},"environment":{"S":"dev"},"region":{"S":"eu-west-1"},"labels":{"M":{"tier":{"S":"dev"}}},"vars":{"M":{"account":{"S":"123456789012"}}},"projects":{"SS":["platform"]}}`)
	f.Add("v#0000000001#manifest#ConfigMap/a/x", `{"apiVersion":{"S":"v1"},"kind":{"S":"ConfigMap"},"metadata":{"M":{"name":{"S":"x"},"namespace":{"S":"a"}}},"data":{"M":{"n":{"N":"12345678901234567890"},"f":{"N":"0.5"},"l":{"L":[{"NULL":true},{"BOOL":false},{"NS":["1","2.5"]}]}}}}`)
	f.Add("v#0000000001#namespace#a", `{"namespace":{"S":"a"},"$draft":{"S":"delete"},"pk":{"S":"x"},"bin":{"B":"aGk="}}`)
	f.Add("head", `{"layer":{"S":"cluster/c"},"version":{"N":"3"},"previous":{"N":"2"},"action":{"S":"publish"},"entries":{"N":"2"},"digest":{"S":"sha256:1"},"at":{"S":"2026-11-22T02:32:14.753328434Z"},"cluster":{"M":{"name":{"S":"c"},"environment":{"S":"dev"},"region":{"S":"r"}}}}`)
	f.Add("v#0000000001", `{"layer":{"S":"cluster/c"},"version":{"N":"1"},"based":{"N":"0"},"published":{"BOOL":true},"entries":{"N":"-1"},"digest":{"S":"x"},"at":{"S":"x"}}`)
	f.Fuzz(func(t *testing.T, sk, doc string) {
		item, ok := parseItem(doc)
		if !ok {
			return
		}
		item[attrPK] = &types.AttributeValueMemberS{Value: "cluster#c"}
		item[attrSK] = &types.AttributeValueMemberS{Value: sk}
		_, _ = decodeHead(item)
		_, _ = decodeVersion(item)

		e, err := entryFromItem(item, 1)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") && !strings.ContainsAny(sk, "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if versionSK(1)+"#"+e.Kind+"#"+e.Key != sk {
			t.Fatalf("item with sk %q read as %s", sk, e.ID())
		}
		if hasNonFinite(e.Body) {
			// DynamoDB itself refuses such numbers; only a hand-built item carries them.
			return
		}
		again, err := bodyItem("cluster#c", sk, e)
		if err != nil {
			t.Fatalf("an entry the store read cannot be written back: %v", err)
		}
		back, err := entryFromItem(again, 1)
		if err != nil {
			t.Fatalf("an entry the store wrote cannot be read back: %v", err)
		}
		if back.ID() != e.ID() || !reflect.DeepEqual(back.Body, e.Body) {
			t.Fatalf("round trip changed the entry:\n%#v\n%#v", e.Body, back.Body)
		}
	})
}

func hasNonFinite(v any) bool {
	switch t := v.(type) {
	case float64:
		return math.IsInf(t, 0) || math.IsNaN(t)
	case map[string]any:
		for _, e := range t {
			if hasNonFinite(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasNonFinite(e) {
				return true
			}
		}
	}
	return false
}

// parseItem reads an item in DynamoDB JSON.
func parseItem(doc string) (map[string]types.AttributeValue, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, false
	}
	item := make(map[string]types.AttributeValue, len(raw))
	for k, v := range raw {
		av, err := parseAttr(v, 0)
		if err != nil {
			return nil, false
		}
		item[k] = av
	}
	return item, true
}

func parseAttr(data json.RawMessage, depth int) (types.AttributeValue, error) {
	if depth > 32 {
		return nil, fmt.Errorf("too deep")
	}
	var typed map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&typed); err != nil || len(typed) != 1 {
		return nil, fmt.Errorf("not one typed value")
	}
	for typ, v := range typed {
		switch typ {
		case "S", "N", "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			switch typ {
			case "S":
				return &types.AttributeValueMemberS{Value: s}, nil
			case "N":
				return &types.AttributeValueMemberN{Value: s}, nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberB{Value: b}, nil
		case "BOOL", "NULL":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, err
			}
			if typ == "NULL" {
				return &types.AttributeValueMemberNULL{Value: b}, nil
			}
			return &types.AttributeValueMemberBOOL{Value: b}, nil
		case "SS", "NS":
			var l []string
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: l}, nil
			}
			return &types.AttributeValueMemberNS{Value: l}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			out := make(map[string]types.AttributeValue, len(m))
			for k, e := range m {
				av, err := parseAttr(e, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = av
			}
			return &types.AttributeValueMemberM{Value: out}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				av, err := parseAttr(e, depth+1)
				if err != nil {
					return nil, err
				}
				out[i] = av
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		}
	}
	return nil, fmt.Errorf("unknown type")
}
