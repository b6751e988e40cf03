package policy

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// match reports whether s matches pattern, in which "*" matches any run of characters
// ("/" included) and every other character itself.
func match(pattern, s string) bool {
	// Iterative wildcard matching with one backtrack point: linear in practice.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchAny returns the first pattern s matches, and whether there is one.
func matchAny(patterns []string, s string) (string, bool) {
	for _, p := range patterns {
		if match(p, s) {
			return p, true
		}
	}
	return "", false
}

// literal is the part of a pattern before its first "*".
func literal(pattern string) string {
	if i := strings.IndexByte(pattern, '*'); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// names reports whether one of the patterns matches s and names what the default refuses:
// its literal part begins with guard. A wildcard alone ("*") never does.
func names(patterns []string, s, guard string) bool {
	for _, p := range patterns {
		if match(p, s) && strings.HasPrefix(literal(p), guard) {
			return true
		}
	}
	return false
}

// kubeNamespace reports whether a namespace is one of Kubernetes' own (kube-system,
// kube-public, kube-node-lease ...).
func kubeNamespace(ns string) bool { return strings.HasPrefix(ns, kubePrefix) }

const kubePrefix = "kube-"

// hubServers are the in-cluster addresses of the cluster Argo CD runs on.
var hubServers = map[string]bool{
	"https://kubernetes.default.svc":                   true,
	"https://kubernetes.default.svc:443":               true,
	"https://kubernetes.default.svc.cluster.local":     true,
	"https://kubernetes.default.svc.cluster.local:443": true,
	"https://kubernetes.default":                       true,
	"https://kubernetes":                               true,
}

// hubName is the name Argo CD gives the cluster it runs on.
const hubName = "in-cluster"

// isHubServer reports whether a destination server is the cluster Argo CD runs on.
func isHubServer(server string) bool { return hubServers[strings.TrimSuffix(server, "/")] }

// repoHost returns the host of a repository URL ("https://host:port/path",
// "oci://host/repo", "git@host:org/repo.git"), lower-cased, without port or brackets.
func repoHost(repoURL string) string {
	s := strings.TrimSpace(repoURL)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			// Not a URL Argo CD could use either; judge what stands where the host would.
			rest := s[strings.Index(s, "://")+3:]
			if i := strings.IndexAny(rest, "/?#"); i >= 0 {
				rest = rest[:i]
			}
			if i := strings.LastIndexByte(rest, '@'); i >= 0 {
				rest = rest[i+1:]
			}
			return strings.ToLower(strings.Trim(rest, "[]"))
		}
		return strings.ToLower(u.Hostname())
	}
	// scp-like: [user@]host:path
	if i := strings.IndexByte(s, ':'); i > 0 {
		host := s[:i]
		if j := strings.LastIndexByte(host, '@'); j >= 0 {
			host = host[j+1:]
		}
		return strings.ToLower(host)
	}
	return ""
}

// metadataHosts are names of instance metadata services.
var metadataHosts = map[string]bool{
	"localhost": true, "instance-data": true, "instance-data.ec2.internal": true,
	"metadata": true, "metadata.google.internal": true,
}

// forbiddenHost says why a repository host is refused by default ("" when it is not): a
// loopback, link-local or unspecified address — where instance metadata services and the
// repo-server's own endpoints answer — an IPv4 address also when written as one decimal or
// hex number.
func forbiddenHost(host string) string {
	host = strings.TrimSuffix(host, ".")
	if metadataHosts[host] || strings.HasSuffix(host, ".localhost") {
		return "a local or instance metadata host"
	}
	ip := net.ParseIP(host)
	if ip == nil {
		// 2852039166 or 0xa9fea9fe is 169.254.169.254 to many resolvers.
		if v, err := strconv.ParseUint(host, 0, 32); err == nil {
			ip = net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
	}
	switch {
	case ip == nil:
		return ""
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address (instance metadata)"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.Equal(net.ParseIP("fd00:ec2::254")):
		return "the instance metadata address"
	}
	return ""
}

// namesHost reports whether one of the patterns matches repoURL and names its host in its
// literal part.
func namesHost(patterns []string, repoURL, host string) bool {
	for _, p := range patterns {
		if match(p, repoURL) && host != "" && strings.Contains(strings.ToLower(literal(p)), host) {
			return true
		}
	}
	return false
}
