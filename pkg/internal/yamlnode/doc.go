// Package yamlnode converts raw configuration values into yaml nodes with sorted keys, for
// the packages that write YAML (layerfile, render); kyaml stays out of their API.
package yamlnode
