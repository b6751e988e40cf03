// Package validate turns merged layers into the validated configuration Model of one cluster:
// it substitutes variables, decodes every entry strictly and checks it against the rules of
// the objects it renders (Kubernetes names, RBAC, quotas, network policies, Calico, add-ons,
// extra manifests, patches), reporting every problem at once, each with the layer, entry and
// field that caused it (*config.ValidationError).
//
// The API is v0: it may change before 1.0.
package validate
