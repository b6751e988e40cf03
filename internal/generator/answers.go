package generator

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"sync"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
)

// ParamSet is the parameter set the generator answers for one cluster.
type ParamSet struct {
	Cluster     string `json:"cluster"`
	Environment string `json:"environment"`
	Region      string `json:"region"`
	// ConfigVersion pins the cluster's three layers, e.g. "g7.e3.c12".
	ConfigVersion string `json:"configVersion"`
	// Labels and Vars are the cluster record's (empty objects when it has none).
	Labels map[string]string `json:"labels"`
	Vars   map[string]string `json:"vars"`
}

// answers are the encoded answers of one registry snapshot.
type answers struct {
	snap *registry.Snapshot
	// params holds the encoded parameter set of each cluster, in Inventory.Clusters order (by name).
	params [][]byte
	// all is the whole answer without filter.
	all *answerBody

	// filtered caches the answers to the filters asked for (ApplicationSets repeat theirs),
	// by canonical input parameters; at most maxFiltered entries.
	mu       sync.Mutex
	filtered map[string]*answerBody
}

// answerBody is an encoded answer, and its gzip encoding made on first use.
type answerBody struct {
	raw  []byte
	once sync.Once
	gz   []byte
}

// minGzip is the smallest answer sent compressed (to clients accepting gzip).
const minGzip = 1024

func (a *answerBody) gzipped() []byte {
	a.once.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		_, _ = w.Write(a.raw)
		_ = w.Close()
		a.gz = b.Bytes()
	})
	return a.gz
}

// maxFiltered bounds the filtered answers cached per snapshot.
const maxFiltered = 256

// filteredAnswer returns the answer for filter f, whose canonical parameters are key.
func (s *answers) filteredAnswer(key string, f Filter) *answerBody {
	s.mu.Lock()
	a, ok := s.filtered[key]
	s.mu.Unlock()
	if ok {
		return a
	}
	a = &answerBody{raw: s.answer(func(i int) bool {
		c := s.snap.Inventory.Clusters[i]
		return f.Match(c.Name, c.Record)
	})}
	s.mu.Lock()
	if s.filtered == nil || len(s.filtered) >= maxFiltered {
		s.filtered = map[string]*answerBody{}
	}
	s.filtered[key] = a
	s.mu.Unlock()
	return a
}

const (
	answerHead = `{"output":{"parameters":[`
	answerTail = "]}}\n"
)

// newAnswers encodes the parameter set of every cluster of snap, and the whole answer.
func newAnswers(snap *registry.Snapshot) *answers {
	inv := snap.Inventory
	s := &answers{snap: snap, params: make([][]byte, len(inv.Clusters))}
	for i, c := range inv.Clusters {
		p := ParamSet{
			Cluster: c.Name, Environment: c.Record.Environment, Region: c.Record.Region,
			ConfigVersion: c.Served.String(), Labels: c.Record.Labels, Vars: c.Record.Vars,
		}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Vars == nil {
			p.Vars = map[string]string{}
		}
		s.params[i], _ = json.Marshal(p) // strings and string maps: cannot fail
	}
	s.all = &answerBody{raw: s.answer(func(int) bool { return true })}
	return s
}

// answer encodes the parameter sets of the clusters keep selects, in name order.
func (s *answers) answer(keep func(i int) bool) []byte {
	var b bytes.Buffer
	b.Grow(len(answerHead) + len(answerTail) + len(s.params)*200)
	b.WriteString(answerHead)
	first := true
	for i, p := range s.params {
		if !keep(i) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(p)
	}
	b.WriteString(answerTail)
	return b.Bytes()
}

// Prepare encodes the answers of snap, a new snapshot of the registry, before the first
// request asks for them (serve calls it for every snapshot the cache installs).
func (h *Handler) Prepare(snap *registry.Snapshot) { h.answersFor(snap) }

// answersFor returns the encoded answers of snap, encoding them once per snapshot. An older
// snapshot than the one encoded last (a request that started before a reload) is encoded for
// that request only.
func (h *Handler) answersFor(snap *registry.Snapshot) *answers {
	if a := h.answers.Load(); a != nil && a.snap == snap {
		return a
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.answers.Load()
	if cur != nil && cur.snap == snap {
		return cur
	}
	a := newAnswers(snap)
	if cur == nil || snap.Seq >= cur.snap.Seq {
		h.answers.Store(a)
	}
	return a
}
