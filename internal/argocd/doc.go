// Package argocd is the service's thin Argo CD API client: it lists Applications,
// hard-refreshes and syncs them, and reads from an Application which cluster and
// configVersion it renders (with the plugin's own parameter rules, internal/plugin).
package argocd
