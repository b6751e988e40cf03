package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
)

// Decoder converts raw entry bodies into typed entries strictly: unknown fields and values of
// the wrong shape are reported with their path, and decoding goes on so that every problem of
// an entry is found in one pass. Scalars are converted where the intent is unambiguous (a
// number where a string is expected, as in "cpu: 4").
type Decoder struct {
	// Problems are the problems found so far, in the order found.
	Problems []DecodeProblem
	// Path is the location being decoded (set it to where the raw value sits before Decode),
	// a stack that is copied only when a problem is found.
	Path Path
}

// DecodeProblem is a field that does not decode: where, and what is wrong with it.
type DecodeProblem struct {
	Path Path
	Msg  string
}

func (d *Decoder) fail(format string, args ...any) {
	p := make(Path, len(d.Path))
	copy(p, d.Path)
	d.Problems = append(d.Problems, DecodeProblem{Path: p, Msg: fmt.Sprintf(format, args...)})
}

func (d *Decoder) push(e PathElem) { d.Path = append(d.Path, e) }
func (d *Decoder) pop()            { d.Path = d.Path[:len(d.Path)-1] }

var intOrStringType = reflect.TypeFor[IntOrString]()

// Decode decodes a raw value (as NormalizeBody returns it) into dst, a settable value of a
// model type, adding a problem for every field that does not decode.
func (d *Decoder) Decode(raw any, dst reflect.Value) {
	if dst.Type() == intOrStringType {
		d.decodeIntOrString(raw, dst)
		return
	}
	switch dst.Kind() {
	case reflect.Pointer:
		if raw == nil {
			return
		}
		v := reflect.New(dst.Type().Elem())
		d.Decode(raw, v.Elem())
		dst.Set(v)
	case reflect.Interface:
		if raw != nil {
			dst.Set(reflect.ValueOf(deepCopy(raw)))
		}
	case reflect.String:
		switch t := raw.(type) {
		case nil:
		case string:
			dst.SetString(t)
		case int64:
			dst.SetString(strconv.FormatInt(t, 10))
		case float64:
			dst.SetString(strconv.FormatFloat(t, 'f', -1, 64))
		case bool:
			dst.SetString(strconv.FormatBool(t))
		default:
			d.fail("must be a string, not %s", msgfmt.Describe(raw))
		}
	case reflect.Bool:
		switch t := raw.(type) {
		case nil:
		case bool:
			dst.SetBool(t)
		default:
			d.fail("must be true or false, not %s", msgfmt.Describe(raw))
		}
	case reflect.Int64:
		switch t := raw.(type) {
		case nil:
		case int64:
			dst.SetInt(t)
		default:
			d.fail("must be a whole number, not %s", msgfmt.Describe(raw))
		}
	case reflect.Float64:
		switch t := raw.(type) {
		case nil:
		case int64:
			dst.SetFloat(float64(t))
		case float64:
			dst.SetFloat(t)
		default:
			d.fail("must be a number, not %s", msgfmt.Describe(raw))
		}
	case reflect.Slice:
		if raw == nil {
			return
		}
		list, ok := raw.([]any)
		if !ok {
			d.fail("must be a list, not %s", msgfmt.Describe(raw))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, e := range list {
			d.push(elemOf(e, i))
			d.Decode(e, out.Index(i))
			d.pop()
		}
		dst.Set(out)
	case reflect.Map:
		if raw == nil {
			return
		}
		m, ok := raw.(map[string]any)
		if !ok {
			d.fail("must be a map, not %s", msgfmt.Describe(raw))
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, raw := range m {
			v := reflect.New(dst.Type().Elem()).Elem()
			d.push(fieldElem(k))
			d.Decode(raw, v)
			d.pop()
			out.SetMapIndex(reflect.ValueOf(k), v)
		}
		dst.Set(out)
	case reflect.Struct:
		if raw == nil {
			return
		}
		m, ok := raw.(map[string]any)
		if !ok {
			d.fail("must be a map, not %s", msgfmt.Describe(raw))
			return
		}
		fields := structFields(dst.Type())
		for k, raw := range m {
			f, known := fields.byName[k]
			d.push(fieldElem(k))
			if known {
				d.Decode(raw, dst.FieldByIndex(f))
			} else {
				d.fail("unknown field (known fields: %s)", strings.Join(fields.names, ", "))
			}
			d.pop()
		}
	default:
		d.fail("unsupported field type %s", dst.Type())
	}
}

// elemOf names a list element by its "name" when it has one, else by index.
func elemOf(e any, i int) PathElem {
	if m, ok := e.(map[string]any); ok {
		if n, ok := m["name"].(string); ok && n != "" {
			return PathElem{Key: n}
		}
	}
	return PathElem{Index: i}
}

// ElemPath extends p by elemOf(e, i).
func ElemPath(p Path, e any, i int) Path { return p.with(elemOf(e, i)) }

func (d *Decoder) decodeIntOrString(raw any, dst reflect.Value) {
	v := dst.Addr().Interface().(*IntOrString)
	switch t := raw.(type) {
	case int64:
		v.Int = t
	case float64:
		if t != math.Trunc(t) {
			d.fail("must be a whole number or a name, not %v", t)
		}
		v.Int = int64(t)
	case string:
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			v.Int = n
			return
		}
		v.Str, v.IsText = t, true
	default:
		d.fail("must be a number or a name, not %s", msgfmt.Describe(raw))
	}
}

type fieldSet struct {
	byName map[string][]int
	names  []string
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields returns the json names of a struct's fields, including inlined embedded
// structs, with their index paths.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string][]int{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" {
				walk(f.Type, idx)
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			fs.byName[name] = idx
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	sort.Strings(fs.names)
	fieldCache.Store(t, fs)
	return fs
}

// ReflectValue is the value ptr points to, as Decode takes it.
func ReflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }
