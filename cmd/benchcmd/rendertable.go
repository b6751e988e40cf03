package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// renderTable turns `go test -bench BenchmarkRender -benchmem` output into a Markdown table
// with the time per namespace (to see whether growth is linear).
func renderTable(in io.Reader, out io.Writer) error {
	type row struct {
		namespaces int
		format     string
		metrics    map[string]float64
	}
	var rows []row
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkRender/namespaces=") {
			if strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "goos:") || strings.HasPrefix(line, "goarch:") {
				fmt.Fprintf(out, "%s  \n", line)
			}
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkRender/namespaces=")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		nsPart, format, _ := strings.Cut(name, "/")
		n, err := strconv.Atoi(nsPart)
		if err != nil {
			continue
		}
		r := row{namespaces: n, format: format, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				r.metrics[f[i+1]] = v
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no BenchmarkRender results in the input")
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| namespaces | objects | format | time/op | µs per namespace | CPU/op | allocs/op | MB allocated/op | peak live heap | output |")
	fmt.Fprintln(out, "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		m := r.metrics
		fmt.Fprintf(out, "| %d | %.0f | %s | %.1f ms | %.1f | %.1f ms | %.0f | %.1f | %.1f MB | %.2f MB |\n",
			r.namespaces, m["objects/op"], r.format, m["ns/op"]/1e6, m["ns/op"]/1e3/float64(r.namespaces), m["cpu-ms/op"],
			m["allocs/op"], m["B/op"]/1e6, m["peak-live-heap-MB"], m["output-MB"])
	}
	return nil
}
