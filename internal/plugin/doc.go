// Package plugin holds the Argo CD side of dynamo-cmp: how generate reads its parameters from
// the environment argocd-cmp-server gives it (ARGOCD_APP_PARAMETERS, PARAM_*, ARGOCD_ENV_*),
// and the parameter announcements of the dynamic parameters command. It is pure: the CLI
// passes the environment in as a map.
package plugin
