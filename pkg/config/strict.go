package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// decoder converts raw entry bodies into typed entries strictly: unknown fields and values of
// the wrong shape are reported with their path, and decoding goes on so that every problem of
// an entry is found in one pass. Scalars are converted where the intent is unambiguous (a
// number where a string is expected, as in "cpu: 4").
type decoder struct {
	problems []decodeProblem
	// path is the location being decoded, a stack that is copied only when a problem is found.
	path Path
}

type decodeProblem struct {
	path Path
	msg  string
}

func (d *decoder) fail(format string, args ...any) {
	p := make(Path, len(d.path))
	copy(p, d.path)
	d.problems = append(d.problems, decodeProblem{path: p, msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) push(e PathElem) { d.path = append(d.path, e) }
func (d *decoder) pop()            { d.path = d.path[:len(d.path)-1] }

var intOrStringType = reflect.TypeFor[IntOrString]()

func (d *decoder) decode(raw any, dst reflect.Value) {
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
		d.decode(raw, v.Elem())
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
			d.fail("must be a string, not %s", describe(raw))
		}
	case reflect.Bool:
		switch t := raw.(type) {
		case nil:
		case bool:
			dst.SetBool(t)
		default:
			d.fail("must be true or false, not %s", describe(raw))
		}
	case reflect.Int64:
		switch t := raw.(type) {
		case nil:
		case int64:
			dst.SetInt(t)
		default:
			d.fail("must be a whole number, not %s", describe(raw))
		}
	case reflect.Float64:
		switch t := raw.(type) {
		case nil:
		case int64:
			dst.SetFloat(float64(t))
		case float64:
			dst.SetFloat(t)
		default:
			d.fail("must be a number, not %s", describe(raw))
		}
	case reflect.Slice:
		if raw == nil {
			return
		}
		list, ok := raw.([]any)
		if !ok {
			d.fail("must be a list, not %s", describe(raw))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, e := range list {
			d.push(elemOf(e, i))
			d.decode(e, out.Index(i))
			d.pop()
		}
		dst.Set(out)
	case reflect.Map:
		if raw == nil {
			return
		}
		m, ok := raw.(map[string]any)
		if !ok {
			d.fail("must be a map, not %s", describe(raw))
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, raw := range m {
			v := reflect.New(dst.Type().Elem()).Elem()
			d.push(fieldElem(k))
			d.decode(raw, v)
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
			d.fail("must be a map, not %s", describe(raw))
			return
		}
		fields := structFields(dst.Type())
		for k, raw := range m {
			f, known := fields.byName[k]
			d.push(fieldElem(k))
			if known {
				d.decode(raw, dst.FieldByIndex(f))
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

// elemPath extends p by elemOf(e, i).
func elemPath(p Path, e any, i int) Path { return p.with(elemOf(e, i)) }

func (d *decoder) decodeIntOrString(raw any, dst reflect.Value) {
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
		d.fail("must be a number or a name, not %s", describe(raw))
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

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }
