// Package cli is the command line of dynamo-cmp: it reads the process environment and flags
// into option structs (nothing below it calls os.Getenv), wires the config, render, store and
// serve packages together, and maps errors to exit codes. Every command writes results to the
// injected stdout and diagnostics to the injected stderr. Each command (or small group, such
// as drafts) has its own file with a flags struct and a run… function that takes them; the
// layers → manifests step is ops.Render, the same for generate and every other command.
package cli
