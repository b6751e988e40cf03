package config

import (
	"fmt"
	"math"
)

// Raw values are the JSON-like data of entry bodies: map[string]any, []any, string, bool,
// int64, float64 and nil. normalize converts what decoders produce (int, float32, uint ...)
// into that set and copies containers, so entries never share memory with their source.
func Normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, int64:
		return t, nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), nil
		}
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v is not a number JSON can carry", t)
		}
		return t, nil
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint64:
		if t > math.MaxInt64 {
			return nil, fmt.Errorf("%d is too large", t)
		}
		return int64(t), nil
	case uint:
		return Normalize(uint64(t))
	case float32:
		return Normalize(float64(t))
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			n, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
}

// NormalizeBody converts a decoded body (from YAML, JSON or DynamoDB) into canonical raw
// values, copying it.
func NormalizeBody(body map[string]any) (map[string]any, error) {
	n, err := Normalize(body)
	if err != nil {
		return nil, err
	}
	return n.(map[string]any), nil
}

// DeepCopy copies a decoded JSON value: maps and slices are new, scalars shared.
func DeepCopy(v any) any { return deepCopy(v) }

// DeepCopyMap copies a decoded JSON object (nil stays nil).
func DeepCopyMap(m map[string]any) map[string]any { return deepCopyMap(m) }

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}
