// Package store keeps versioned configuration layers in one DynamoDB table. It is the only
// package that imports the AWS SDK; everything it returns is in the config package's terms
// (layers, entries), and every AWS error is mapped to a typed, sanitised error here (no
// request ids, no credentials, no item bodies).
//
// Layout (docs/dynamodb.md has the full description and IAM actions per command):
//
//	pk                     sk                                   item
//	global | env#<e> |     head                                 the published version of the layer
//	cluster#<c>            v#0000000012                         metadata of version 12 (claim)
//	                       v#0000000012#<kind>#<key>            an entry of version 12 (immutable)
//	                       draft#<kind>#<key>                   a draft entry (console edits)
//	                       audit#<RFC3339 time>#<trace id>      publish / rollback record
//	registry               layer#global | layer#env#<e> |       mirror of every head, for listing
//	                       layer#cluster#<c>                    clusters and polling all heads at once
//	rollout                global | env#<e>                     the layer's latest rollout in waves
//	changes                seq                                  the change counter
//	lkg#<c>                lkg                                  last known good configVersion (serve)
//	observed#<c>           observed                             what the cluster's Applications report (serve)
//	strategy, policy, policy-audit                              rollout strategies, policies, their audit
//
// What serve writes has partitions of its own so IAM can scope it by partition key
// (layout.go); upgrade.go moves the items an earlier release kept at other keys.
//
// Entry items are plain maps: the entry body's fields are the item's attributes next to pk
// and sk, so the seed's flat namespace item is a valid entry.
package store
