// Package policy decides what a layer may render. A policy is data stored in the table
// (dynamo-cmp policy put): it applies to the layers its patterns match ("global", "env/*",
// "cluster/team-a-*") and says which kinds, namespaces and cluster-scoped objects they may
// render, which roles they may bind and to which system subjects, and, for add-on
// Applications on the hub, which Argo CD projects, destinations and source repositories they
// may use. A layer no policy matches gets the default policy, which refuses what lets a layer's
// writer take over a cluster or the fleet: bindings of cluster-admin (or of a role that grants
// everything) and to system:* subjects, objects in kube-* namespaces, Argo CD objects in
// extra manifests, and hub Applications that leave the cluster being rendered or use a project
// its cluster record does not name.
//
// A Checker judges every rendered object, after the patches, against the policy of each layer
// whose entries (or patches) wrote it, and reports every refusal at once, naming the layer,
// the entry, the field and the rule, and how to widen the policy. It knows nothing about
// DynamoDB; ops.Render runs it for generate, render, the config commands and publish alike.
package policy
