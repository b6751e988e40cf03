package importer

import (
	"encoding/json"
	"reflect"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return numbersToRaw(m).(map[string]any)
}

// TestCleanLeavesWhatAPersonWrote runs Clean over objects shaped as a kube-apiserver returns
// them after server-side apply, client-side apply and create.
func TestCleanLeavesWhatAPersonWrote(t *testing.T) {
	cases := []struct{ name, live, want string }{
		{"server-side apply: defaulted policyTypes and status dropped",
			`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"team-a","uid":"u1","resourceVersion":"7","generation":1,"creationTimestamp":"2026-12-07T10:00:00Z",
			  "managedFields":[{"manager":"argocd-controller","operation":"Apply","apiVersion":"networking.k8s.io/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:podSelector":{},"f:ingress":{}}}}]},
			  "spec":{"podSelector":{},"ingress":[{"from":[{"podSelector":{}}]}],"policyTypes":["Ingress"]}}`,
			`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"team-a"},"spec":{"podSelector":{},"ingress":[{"from":[{"podSelector":{}}]}]}}`},
		{"server-side apply: keyed list elements and labels of one applier",
			`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a","labels":{"kubernetes.io/metadata.name":"team-a","team":"a","added-by-hand":"x"},
			  "managedFields":[{"manager":"kubectl","operation":"Apply","fieldsV1":{"f:metadata":{"f:labels":{"f:team":{}}}}},
			                   {"manager":"kubectl-label","operation":"Update","fieldsV1":{"f:metadata":{"f:labels":{"f:added-by-hand":{}}}}}]},
			  "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}`,
			`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a","labels":{"team":"a"}}}`},
		{"client-side apply: the last applied configuration",
			`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-b","labels":{"kubernetes.io/metadata.name":"team-b","team":"b"},
			  "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"annotations\":{},\"labels\":{\"team\":\"b\"},\"name\":\"team-b\"}}\n"},
			  "managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:labels":{".":{},"f:kubernetes.io/metadata.name":{},"f:team":{}}}}}]},
			  "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}`,
			`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-b","labels":{"team":"b"}}}`},
		{"create: the fields of its writers, element by key",
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"devs","namespace":"team-a","uid":"u","resourceVersion":"9",
			  "managedFields":[{"manager":"kubectl-create","operation":"Update","fieldsV1":{"f:roleRef":{},"f:subjects":{}}}]},
			  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"devs"}]}`,
			`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"devs","namespace":"team-a"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"devs"}]}`},
		{"containers keyed by name, a defaulted field dropped",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"a","managedFields":[{"manager":"m","operation":"Apply","fieldsV1":{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{}}}}}}}}]},
			  "spec":{"revisionHistoryLimit":10,"template":{"spec":{"containers":[{"name":"web","image":"nginx","imagePullPolicy":"Always"}],"dnsPolicy":"ClusterFirst"}}}}`,
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"a"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := Clean(decode(t, c.live))
			if want := decode(t, c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s (dropped: %v)", canonicalJSON(got), canonicalJSON(want), why)
			}
		})
	}
}

func TestSystemObjectsAreLeftOut(t *testing.T) {
	for _, s := range []string{
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`,
		`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q","namespace":"kube-public"}}`,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"system:basic-user"}}`,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"edit","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"}}}`,
		`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"l","namespace":"a","ownerReferences":[{"kind":"X","name":"y"}]}}`,
	} {
		if !isSystemObject(decode(t, s)) {
			t.Errorf("not left out: %s", s)
		}
	}
	if isSystemObject(decode(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}`)) {
		t.Error("team-a is left out")
	}
}
