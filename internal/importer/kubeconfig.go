package importer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
)

// Kubeconfig is a kubeconfig file, the parts import reads: contexts, clusters and users with the usual
// credentials (client certificates, bearer tokens, exec plugins such as `aws eks get-token`).
//
// Why not client-go's clientcmd: it would link k8s.io/client-go, k8s.io/api and k8s.io/apimachinery
// into the one binary that also runs as the repo-server sidecar on every render, for a command that
// makes a handful of GETs. What this reader does not support (auth-provider plugins, basic auth,
// impersonation, proxy-url) it refuses by name instead of connecting without the credential.
type Kubeconfig struct {
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
			TLSServerName            string `json:"tls-server-name"`
			ProxyURL                 string `json:"proxy-url"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			ClientCertificate     string `json:"client-certificate"`
			ClientCertificateData string `json:"client-certificate-data"`
			ClientKey             string `json:"client-key"`
			ClientKeyData         string `json:"client-key-data"`
			Token                 string `json:"token"`
			TokenFile             string `json:"tokenFile"`
			// Refused: see unsupported.
			AuthProvider json.RawMessage `json:"auth-provider"`
			Username     string          `json:"username"`
			As           string          `json:"as"`
			Exec         *struct {
				Command string   `json:"command"`
				Args    []string `json:"args"`
				Env     []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"env"`
			} `json:"exec"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	// dir is the directory of the file: relative paths in it are relative to it.
	dir string
}

// LoadKubeconfig reads a kubeconfig file.
func LoadKubeconfig(path string) (*Kubeconfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	var k Kubeconfig
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	k.dir = filepath.Dir(path)
	return &k, nil
}

// apiClient reaches one API server as a kubeconfig context says.
type apiClient struct {
	server string
	http   *retryablehttp.Client
	token  func(context.Context) (string, error)
}

func (k *Kubeconfig) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(k.dir, p)
}

func fileOrData(path, data string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if path != "" {
		return os.ReadFile(path)
	}
	return nil, nil
}

// client builds the client of a context. Credentials are read, never printed.
func (k *Kubeconfig) client(contextName string) (*apiClient, error) {
	var clusterName, userName string
	found := false
	for _, c := range k.Contexts {
		if c.Name == contextName {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return nil, fmt.Errorf("kubeconfig has no context %q", contextName)
	}
	c := &apiClient{}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	found = false
	for _, cl := range k.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		if cl.Cluster.ProxyURL != "" {
			return nil, fmt.Errorf("context %s: cluster %q: proxy-url is not supported by import (set HTTPS_PROXY instead)", contextName, clusterName)
		}
		c.server = strings.TrimSuffix(cl.Cluster.Server, "/")
		ca, err := fileOrData(k.path(cl.Cluster.CertificateAuthority), cl.Cluster.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("context %s: certificate authority: %w", contextName, err)
		}
		if len(ca) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("context %s: certificate authority holds no PEM certificate", contextName)
			}
			tc.RootCAs = pool
		}
		tc.InsecureSkipVerify = cl.Cluster.InsecureSkipTLSVerify
		tc.ServerName = cl.Cluster.TLSServerName
	}
	if !found || c.server == "" {
		return nil, fmt.Errorf("context %s: kubeconfig has no server for cluster %q", contextName, clusterName)
	}
	c.token = func(context.Context) (string, error) { return "", nil }
	for _, u := range k.Users {
		if u.Name != userName {
			continue
		}
		if what := unsupported(u.User.AuthProvider, u.User.Username, u.User.As); what != "" {
			return nil, fmt.Errorf("context %s: user %q: %s is not supported by import (use a token, a client certificate or an exec plugin)", contextName, userName, what)
		}
		cert, err := fileOrData(k.path(u.User.ClientCertificate), u.User.ClientCertificateData)
		if err != nil {
			return nil, fmt.Errorf("context %s: client certificate: %w", contextName, err)
		}
		key, err := fileOrData(k.path(u.User.ClientKey), u.User.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("context %s: client key: %w", contextName, err)
		}
		if len(cert) > 0 {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("context %s: client certificate and key do not make a pair", contextName)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		switch {
		case u.User.Token != "":
			tok := u.User.Token
			c.token = func(context.Context) (string, error) { return tok, nil }
		case u.User.TokenFile != "":
			path := k.path(u.User.TokenFile)
			c.token = func(context.Context) (string, error) {
				b, err := os.ReadFile(path)
				return strings.TrimSpace(string(b)), err
			}
		case u.User.Exec != nil:
			ex := *u.User.Exec
			c.token = func(ctx context.Context) (string, error) {
				cmd := exec.CommandContext(ctx, ex.Command, ex.Args...)
				cmd.Env = os.Environ()
				for _, e := range ex.Env {
					cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
				}
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Run(); err != nil {
					return "", fmt.Errorf("context %s: credential plugin %s: %w", contextName, ex.Command, err)
				}
				var cred struct {
					Status struct {
						Token string `json:"token"`
					} `json:"status"`
				}
				if err := json.Unmarshal(out.Bytes(), &cred); err != nil || cred.Status.Token == "" {
					return "", fmt.Errorf("context %s: credential plugin %s gave no token", contextName, ex.Command)
				}
				return cred.Status.Token, nil
			}
		}
	}
	// The project's outbound client: its retry policy, and no redirect followed with the token.
	c.http = outbound.NewClient(outbound.TargetKube,
		outbound.HTTPOptions{Timeout: 60 * time.Second, RetryMax: 3, RetryWaitMin: 200 * time.Millisecond, RetryWaitMax: 2 * time.Second},
		tc, outbound.NewMetrics(prometheus.NewRegistry(), "dynamo_cmp_import"), slog.New(slog.DiscardHandler))
	return c, nil
}

// StatusError is an API server's refusal (its status and message).
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// get reads a JSON document from the API server.
func (c *apiClient) get(ctx context.Context, path string, out any) error {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, c.server+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			return fmt.Errorf("GET %s: %w", path, ue.Unwrap())
		}
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if resp.StatusCode != http.StatusOK {
		var st struct {
			Message string `json:"message"`
		}
		_ = dec.Decode(&st)
		return &StatusError{Code: resp.StatusCode, Message: st.Message}
	}
	return dec.Decode(out)
}

// unsupported names the first credential setting of a kubeconfig user that import cannot honour.
func unsupported(authProvider json.RawMessage, username, as string) string {
	switch {
	case len(authProvider) > 0 && string(authProvider) != "null":
		return "auth-provider"
	case username != "":
		return "basic auth (username)"
	case as != "":
		return "impersonation (as)"
	}
	return ""
}
