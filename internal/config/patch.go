package config

import "fmt"

// Problem reports a problem of the patch that only rendering finds, in the form of every
// other validation problem: the layer that set the field, the entry and the field.
func (p *Patch) Problem(field, format string, args ...any) *ValidationError {
	layer := p.OpsLayer
	if field == "target" {
		layer = p.TargetLayer
	}
	return &ValidationError{Problems: []FieldError{{
		Layer: layer, Entry: entryPath(KindPatch, p.Name), Path: field, Msg: fmt.Sprintf(format, args...),
	}}}
}

// OpsField is the name of the field that holds the patch's operations.
func (p *Patch) OpsField() string {
	if p.JSON6902 != nil {
		return "json6902"
	}
	return "strategicMerge"
}
