// Package ops holds the operators' workflows on top of the store: publishing a layer (diff,
// validation of every cluster the layer affects, then the optimistic head move), rolling back,
// publishing console drafts, and the diffs the commands print. Render is the
// one way from a cluster's layers to its manifests (merge, resolve, render): generate, render,
// the config commands and the publish checks all call it. It decides nothing about DynamoDB's layout (store) or the
// configuration rules (config, render).
package ops
