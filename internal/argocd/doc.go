// Package argocd is the service's thin Argo CD API client: it lists Applications (by label
// selector, the answer bounded and decoded as it arrives), hard-refreshes, syncs and ends
// their operations, and reads from an Application which cluster and configVersion it renders
// (with the plugin's own parameter rules, internal/plugin). Its Reader is serve's one reader
// of the Applications: each reading, grouped by cluster, is shared by the rollout driver,
// the tracker and the refresher.
package argocd
