// Package layerfile reads and writes layer files, the YAML (or JSON) documents platform
// engineers keep their configuration in (apiVersion dynamo-cmp.io/v1, kind Layer): decoding with
// unknown fields, duplicate keys and YAML pitfalls refused, every error naming the file, the
// document and the entry, and the inverse encoding. The JSON Schema of the format is
// schema/layer.schema.json.
//
// The API is v0: it may change before 1.0.
package layerfile
