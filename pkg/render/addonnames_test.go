package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// addonApplicationNames renders cluster's add-ons and returns the Application names, by add-on.
func addonApplicationNames(t *testing.T, cluster string, addons ...string) map[string]string {
	names, _ := addonApplications(t, cluster, addons...)
	return names
}

// addonApplications renders cluster's add-ons and returns the Application names and the Helm
// release names they set, by add-on.
func addonApplications(t *testing.T, cluster string, addons ...string) (names, releases map[string]string) {
	t.Helper()
	doc := "layer: cluster/" + cluster + "\ncluster: {environment: dev, region: r}\naddons:\n"
	for _, a := range addons {
		doc += "  - {name: " + a + ", namespace: x, chart: {repoURL: https://charts.example.com, chart: " + a + ", version: 1.0.0}}\n"
	}
	layers, err := layerfile.ParseLayers("x", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	model, err := validate.Resolve(layers, cluster)
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(model, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names, releases = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out.Bytes())), "\n") {
		var obj struct {
			Metadata struct{ Name string }
			Spec     struct {
				Source struct {
					Chart string
					Helm  struct{ ReleaseName string }
				}
			}
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatal(err)
		}
		names[obj.Spec.Source.Chart] = obj.Metadata.Name
		releases[obj.Spec.Source.Chart] = obj.Spec.Source.Helm.ReleaseName
	}
	return names, releases
}

// TestRenamedAddonsKeepTheirHelmReleases: Argo CD names a chart's Helm release after the
// Application; an add-on whose Application name changed to stay unique keeps the release
// name, so its chart's objects keep their names, while an unchanged one gets no release name.
func TestRenamedAddonsKeepTheirHelmReleases(t *testing.T) {
	names, releases := addonApplications(t, "dev-k3s", "ingress-nginx", "logging")
	if names["ingress-nginx"] == "dev-k3s-ingress-nginx" || releases["ingress-nginx"] != "dev-k3s-ingress-nginx" {
		t.Errorf("ingress-nginx: Application %q, release %q; want a new name and the release dev-k3s-ingress-nginx", names["ingress-nginx"], releases["ingress-nginx"])
	}
	if names["logging"] != "dev-k3s-logging" || releases["logging"] != "" {
		t.Errorf("logging: Application %q, release %q; want dev-k3s-logging and no release name", names["logging"], releases["logging"])
	}
}

// TestAddonApplicationNamesAreUnique (issue 20, item 6): the Applications of every cluster's
// add-ons share Argo CD's namespace, and "<cluster>-<addon>" made cluster a's add-on b-x and
// cluster a-b's add-on x the same Application. Names are unique across clusters, stable, valid
// and at most 63 characters (Argo CD writes the name into a label).
func TestAddonApplicationNamesAreUnique(t *testing.T) {
	ab := addonApplicationNames(t, "a", "b-x")["b-x"]
	abx := addonApplicationNames(t, "a-b", "x")["x"]
	if ab == abx {
		t.Errorf("cluster a's add-on b-x and cluster a-b's add-on x are both the Application %q", ab)
	}

	long := strings.Repeat("c", 40) + "-" + strings.Repeat("d", 22) // a 63-character cluster name
	seen := map[string]string{}
	for _, tc := range []struct{ cluster, addon, want string }{
		{"dev-k3s", "logging", "dev-k3s-logging"}, // an add-on name without "-" keeps its name
		{"a-b", "x", "a-b-x"},
		{"a", "b-x", ""},
		{"dev-k3s", "ingress-nginx", ""},
		{long, "cert-manager", ""},
		{long, "monitoring", ""},
		{long, strings.Repeat("e", 63), ""},
	} {
		got := addonApplicationNames(t, tc.cluster, tc.addon)[tc.addon]
		if again := addonApplicationNames(t, tc.cluster, tc.addon)[tc.addon]; again != got {
			t.Errorf("%s/%s: %q, then %q: not stable", tc.cluster, tc.addon, got, again)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%s/%s: %q, want %q", tc.cluster, tc.addon, got, tc.want)
		}
		if msgs := validation.IsDNS1123Label(got); len(msgs) > 0 {
			t.Errorf("%s/%s: %q is not a valid name of at most 63 characters: %v", tc.cluster, tc.addon, got, msgs)
		}
		key := tc.cluster + "/" + tc.addon
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s are both the Application %q", prev, key, got)
		}
		seen[got] = key
	}
}
