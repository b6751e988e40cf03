package harness

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	sigsyaml "sigs.k8s.io/yaml"
)

// DefaultFieldManager is the server-side apply field manager Argo CD's application
// controller uses.
const DefaultFieldManager = "argocd-controller"

// KubeAPI is a running etcd + kube-apiserver (no controllers, no nodes) with the Calico
// projectcalico.org/v3 CRDs and Argo CD's CRDs (Application, ApplicationSet, AppProject)
// installed and established.
type KubeAPI struct {
	// Config reaches the apiserver as a member of system:masters.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same access, for commands.
	Kubeconfig string
	Dynamic    dynamic.Interface
	Clientset  kubernetes.Interface
	// Mapper maps kinds to resources through discovery (reset automatically on a miss).
	Mapper *restmapper.DeferredDiscoveryRESTMapper
	// FieldManager is the field manager of Apply; DefaultFieldManager unless changed.
	FieldManager string
	// Version is the server's version, e.g. "v1.37.0".
	Version string

	etcd, apiserver *process
}

// Stop kills kube-apiserver and etcd (SIGKILL by PID). Safe to call more than once; cleanup
// calls it too.
func (k *KubeAPI) Stop() {
	k.apiserver.kill()
	k.etcd.kill()
}

var (
	kubebinOnce sync.Once
	kubebinDir  string
	kubebinErr  error
)

// KubeBinDir returns the directory holding kube-apiserver and etcd: $DYNAMO_CMP_KUBEBIN if
// set, else the cache dir e2e/kubebin/build.sh builds into (running it, a no-op when up to
// date; a cold build after Argo CD's takes about 2 minutes).
func KubeBinDir(t testing.TB) string {
	t.Helper()
	kubebinOnce.Do(func() {
		if dir := os.Getenv("DYNAMO_CMP_KUBEBIN"); dir != "" {
			kubebinDir = dir
			return
		}
		script := filepath.Join(RepoRoot(t), "e2e", "kubebin", "build.sh")
		kubebinDir, kubebinErr = runBuildScript(t, "kube-apiserver and etcd", exec.Command(script))
	})
	if kubebinErr != nil {
		t.Fatalf("harness: building kube-apiserver and etcd: %v", kubebinErr)
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if !fileExists(filepath.Join(kubebinDir, b)) {
			t.Fatalf("harness: %s missing in %s", b, kubebinDir)
		}
	}
	return kubebinDir
}

// StartKubeAPIServer starts etcd and kube-apiserver on 127.0.0.1 (ready in a few seconds once
// the binaries are built), installs the Calico v3 and Argo CD CRDs, waits until they are
// established, and stops everything at cleanup.
func StartKubeAPIServer(t testing.TB) *KubeAPI {
	t.Helper()
	bin := KubeBinDir(t)
	crds := loadCRDs(t)
	start := time.Now()
	dir := shortTempDir(t, "kube-")

	// etcd
	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcdCmd := exec.Command(filepath.Join(bin, "etcd"),
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=e2e="+peerURL,
		"--unsafe-no-fsync=true",
		"--max-request-bytes=4194304",
		"--log-level=warn",
	)
	etcd := startProcess(t, "etcd", etcdCmd, filepath.Join(dir, "etcd.log"))
	t.Cleanup(etcd.kill)
	etcd.dumpLogOnFailure(t)

	// kube-apiserver
	token := "e2e-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	writeFile(t, filepath.Join(dir, "tokens.csv"), token+`,e2e-admin,e2e-admin,"system:masters"`+"\n")
	writeFile(t, filepath.Join(dir, "sa.key"), string(rsaKeyPEM(t)))
	securePort := freePort(t)
	certDir := filepath.Join(dir, "certs")
	apiCmd := exec.Command(filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(securePort),
		"--cert-dir="+certDir,
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
	)
	apiserver := startProcess(t, "kube-apiserver", apiCmd, filepath.Join(dir, "kube-apiserver.log"))
	t.Cleanup(apiserver.kill)
	apiserver.dumpLogOnFailure(t)

	host := "https://127.0.0.1:" + strconv.Itoa(securePort)
	cfg := &rest.Config{
		Host:            host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
	probe, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	ready := func() bool {
		req, _ := http.NewRequest(http.MethodGet, host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := probe.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	// Ready in ~3 s on a quiet machine; at a load average of 20 under nice 19 it took 61 s.
	if err := waitFor(apiserver, 3*time.Minute, 50*time.Millisecond, func() bool {
		if etcd.exited() {
			return true // reported below
		}
		return ready()
	}); err != nil {
		t.Fatalf("harness: kube-apiserver: %v", err)
	}
	if etcd.exited() {
		t.Fatalf("harness: etcd exited (%v):\n%s", etcd.err, etcd.logTail(30))
	}
	// The serving certificate is self-signed for 127.0.0.1: trust it from now on.
	if caData, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt")); err == nil {
		cfg.TLSClientConfig = rest.TLSClientConfig{CAData: caData}
	}

	k := &KubeAPI{Config: cfg, FieldManager: DefaultFieldManager, etcd: etcd, apiserver: apiserver}
	if k.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if k.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatalf("harness: %v", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	k.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("harness: kube-apiserver version (TLS with its self-signed certificate): %v", err)
	}
	k.Version = v.GitVersion
	k.Kubeconfig = filepath.Join(dir, "kubeconfig")
	k.writeKubeconfig(t)
	serving := time.Since(start)

	if err := k.installCRDs(crds); err != nil {
		t.Fatalf("harness: installing CRDs: %v", err)
	}
	t.Logf("harness: kube-apiserver %s at %s (serving in %s, %d CRDs established in %s)",
		k.Version, host, serving.Round(time.Millisecond), len(crds), (time.Since(start) - serving).Round(time.Millisecond))
	return k
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

func rsaKeyPEM(t testing.TB) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func (k *KubeAPI) writeKubeconfig(t testing.TB) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = k.Config.Host
	cluster.CertificateAuthorityData = k.Config.CAData
	cluster.InsecureSkipTLSVerify = k.Config.Insecure
	cfg.Clusters["e2e"] = cluster
	user := clientcmdapi.NewAuthInfo()
	user.Token = k.Config.BearerToken
	cfg.AuthInfos["e2e-admin"] = user
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = "e2e", "e2e-admin"
	cfg.Contexts["e2e"] = kctx
	cfg.CurrentContext = "e2e"
	if err := clientcmd.WriteToFile(*cfg, k.Kubeconfig); err != nil {
		t.Fatalf("harness: writing kubeconfig: %v", err)
	}
}

// installCRDs creates the CRDs and waits until all of them are established.
func (k *KubeAPI) installCRDs(crds []*apiextensionsv1.CustomResourceDefinition) error {
	client, err := apiextensionsclient.NewForConfig(k.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, crd := range crds {
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd.DeepCopy(), metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
			return fmt.Errorf("creating %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		for {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading %s: %w", crd.Name, err)
			}
			if crdEstablished(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not established: %v", crd.Name, got.Status.Conditions)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	k.Mapper.Reset()
	return nil
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// Resource returns the dynamic client of a kind's resource, namespaced to ns when the kind
// is namespaced (ns is ignored for cluster-scoped kinds).
func (k *KubeAPI) Resource(gvk schema.GroupVersionKind, ns string) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	mapping, err := k.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		k.Mapper.Reset()
		mapping, err = k.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return k.Dynamic.Resource(mapping.Resource).Namespace(ns), mapping, nil
	}
	return k.Dynamic.Resource(mapping.Resource), mapping, nil
}

// Get reads one object.
func (k *KubeAPI) Get(ctx context.Context, apiVersion, kind, namespace, name string) (*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	ri, _, err := k.Resource(gv.WithKind(kind), namespace)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, name, metav1.GetOptions{})
}

// ApplyResult is the outcome of applying one object.
type ApplyResult struct {
	// Object is the object as given to Apply.
	Object *unstructured.Unstructured
	// Live is the server's answer (nil on error); with dryRun, the object as it would be.
	Live *unstructured.Unstructured
	// ResourceVersion is Live's resourceVersion ("" on error).
	ResourceVersion string
	// Err is the apiserver's error (an *apierrors.StatusError for rejections) or a local one.
	Err error
}

// Ref names the object as "Kind namespace/name" (or "Kind name").
func (r ApplyResult) Ref() string { return ObjectRef(r.Object) }

// ObjectRef names an object as "Kind namespace/name" (or "Kind name").
func ObjectRef(o *unstructured.Unstructured) string {
	if o == nil {
		return "<nil>"
	}
	if o.GetNamespace() != "" {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

// ApplyErrors joins the errors of results (nil if all succeeded), each prefixed by its object.
func ApplyErrors(results []ApplyResult) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Ref(), r.Err))
		}
	}
	return errors.Join(errs...)
}

// applyRank orders objects as a real apply must: Namespaces and CRDs before what lives in
// them or is defined by them.
func applyRank(o *unstructured.Unstructured) int {
	switch o.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Kind: "Namespace"}:
		return 0
	case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
		return 1
	}
	return 2
}

// Apply server-side-applies every object (field manager k.FieldManager, forced, with
// fieldValidation=Strict, so unknown or duplicate fields are rejected) — Namespaces first,
// then CRDs, then the rest in the given order — and returns one result per object in the
// given order. With dryRun the server validates and defaults without persisting (dryRun=All);
// as on a real cluster, a namespaced object then fails if its Namespace does not exist yet.
// A namespaced object without metadata.namespace is an error (nothing defaults it here).
func (k *KubeAPI) Apply(ctx context.Context, objs []*unstructured.Unstructured, dryRun bool) []ApplyResult {
	results := make([]ApplyResult, len(objs))
	order := make([]int, len(objs))
	for i := range objs {
		order[i] = i
		results[i].Object = objs[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return applyRank(objs[order[a]]) < applyRank(objs[order[b]]) })
	for _, i := range order {
		results[i].Live, results[i].Err = k.applyOne(ctx, objs[i], dryRun)
		if results[i].Live != nil {
			results[i].ResourceVersion = results[i].Live.GetResourceVersion()
		}
	}
	return results
}

func (k *KubeAPI) applyOne(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	if obj == nil {
		return nil, errors.New("nil object")
	}
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, fmt.Errorf("object without apiVersion or kind")
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("object without metadata.name")
	}
	ri, mapping, err := k.Resource(gvk, obj.GetNamespace())
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "" {
		return nil, fmt.Errorf("namespaced %s without metadata.namespace", gvk.Kind)
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: k.FieldManager, Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
}

// ApplyManifests parses manifests (each entry JSON or YAML, possibly a multi-document
// stream — what GenerateManifests returns or dynamo-cmp prints) and applies them like Apply.
// A parse error is returned as error, apply errors are in the results.
func (k *KubeAPI) ApplyManifests(ctx context.Context, manifests []string, dryRun bool) ([]ApplyResult, error) {
	objs, err := ParseManifests(manifests...)
	if err != nil {
		return nil, err
	}
	return k.Apply(ctx, objs, dryRun), nil
}

// ParseManifests decodes JSON or YAML documents (each string may hold several) into
// objects, skipping empty documents.
func ParseManifests(manifests ...string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for i, m := range manifests {
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(m), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("manifest %d: %w", i, err)
			}
			if len(obj) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
	return objs, nil
}

// IsFieldValidationError reports whether err is the apiserver's rejection of an object with
// unknown or duplicate fields. Server-side apply answers those before validation proper, as
// "failed to create typed patch object (...): .spec.x: field not declared in schema" (HTTP
// 500, exactly what kubectl apply --server-side shows); other writes with
// fieldValidation=Strict answer HTTP 422 'strict decoding error: unknown field "spec.x"'.
func IsFieldValidationError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "field not declared in schema") || strings.Contains(msg, "unknown field") ||
		strings.Contains(msg, "duplicate field")
}

// IsInvalid reports whether err is the apiserver's rejection of an invalid object (HTTP 422,
// e.g. a value that fails a schema or built-in validation) or a bad request (HTTP 400).
func IsInvalid(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

// loadCRDs returns the CRDs every KubeAPI gets, read once per process from the Go module
// cache (downloaded on first use): Argo CD's manifests/crds and Calico's libcalico-go CRDs
// rewritten to projectcalico.org/v3.
func loadCRDs(t testing.TB) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	crdsOnce.Do(func() { crds, crdsErr = readCRDs(t) })
	if crdsErr != nil {
		t.Fatalf("harness: %v", crdsErr)
	}
	return crds
}

var (
	crdsOnce sync.Once
	crds     []*apiextensionsv1.CustomResourceDefinition
	crdsErr  error
)

func readCRDs(t testing.TB) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	e2eDir := filepath.Join(RepoRoot(t), "e2e")
	argoDir, err := goModDownload(t, e2eDir, "github.com/argoproj/argo-cd/v3", "")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range []string{"application-crd.yaml", "applicationset-crd.yaml", "appproject-crd.yaml"} {
		crd, err := readCRD(filepath.Join(argoDir, "manifests", "crds", f))
		if err != nil {
			return nil, err
		}
		out = append(out, crd)
	}
	calico, err := CalicoCRDs(t)
	if err != nil {
		return nil, err
	}
	return append(out, calico...), nil
}

func readCRD(path string) (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := sigsyaml.UnmarshalStrict(data, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if crd.Kind != "CustomResourceDefinition" || crd.Name == "" {
		return nil, fmt.Errorf("%s: not a CustomResourceDefinition", path)
	}
	return &crd, nil
}

// CalicoCRDs returns the CRDs of Calico's projectcalico.org/v3 API. No module ships them
// as such: they are Calico's crd.projectcalico.org/v1 CRDs (libcalico-go/config/crd of the
// github.com/projectcalico/calico module pinned in e2e/calico/go.mod) with the group
// rewritten to projectcalico.org and the version to v3 — the same kinds and schemas, served
// under the API group manifests use.
func CalicoCRDs(t testing.TB) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	t.Helper()
	dir, err := goModDownload(t, filepath.Join(RepoRoot(t), "e2e", "calico"), "github.com/projectcalico/calico", "")
	if err != nil {
		return nil, fmt.Errorf("%w (the first download of this module may need GONOSUMDB=github.com/projectcalico/calico if e2e/calico/go.sum lacks its lines)", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "libcalico-go", "config", "crd", "crd.projectcalico.org_*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no crd.projectcalico.org_*.yaml in %s/libcalico-go/config/crd", dir)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		crd, err := readCRD(f)
		if err != nil {
			return nil, err
		}
		if crd.Spec.Group != "crd.projectcalico.org" || len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1" {
			return nil, fmt.Errorf("%s: expected one version v1 of group crd.projectcalico.org", f)
		}
		crd.Spec.Group = "projectcalico.org"
		crd.Spec.Versions[0].Name = "v3"
		crd.Name = crd.Spec.Names.Plural + ".projectcalico.org"
		crd.Annotations = nil
		out = append(out, crd)
	}
	return out, nil
}
