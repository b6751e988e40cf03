package registry

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// recorder is a Subscriber that writes down what it is told.
type recorder struct {
	name string
	log  *[]string
}

func (r recorder) Loaded(cur *Snapshot) {
	*r.log = append(*r.log, fmt.Sprintf("%s loaded %d", r.name, cur.Seq))
}

func (r recorder) Changed(cur *Snapshot, changes []Change) {
	var refs []string
	for _, ch := range changes {
		refs = append(refs, ch.Ref.String())
	}
	*r.log = append(*r.log, fmt.Sprintf("%s changed %d %v", r.name, cur.Seq, refs))
}

// TestRouterTellsEverySubscriberInOrder: every snapshot is prepared first; the first one is
// "loaded" for every subscriber, a later one is told as its changes (in the subscribers'
// order), and a snapshot that changes no head nor rollout tells no subscriber.
func TestRouterTellsEverySubscriberInOrder(t *testing.T) {
	var got []string
	r := &Router{
		Prepare:     func(cur *Snapshot) { got = append(got, fmt.Sprintf("prepare %d", cur.Seq)) },
		Subscribers: []Subscriber{recorder{"a", &got}, recorder{"b", &got}},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:         func() time.Time { return time.Unix(1000, 0) },
	}
	at := time.Unix(100, 0)
	snap := func(seq int64, global int) *Snapshot {
		return NewSnapshot(seq, store.RegistryState{Heads: []store.Head{
			{Ref: config.GlobalLayer, Version: global, At: at.Add(time.Duration(global) * time.Second)},
			{Ref: config.EnvLayer("dev"), Version: 1, At: at},
			{Ref: config.ClusterLayer("a"), Version: 1, At: at, Cluster: &config.Cluster{Name: "a", Environment: "dev"}},
		}}, at)
	}
	s1, s2, s3 := snap(1, 1), snap(2, 1), snap(3, 2)
	r.OnChange(nil, s1)
	r.OnChange(s1, s2) // the counter moved, no head did
	r.OnChange(s2, s3)
	want := []string{
		"prepare 1", "a loaded 1", "b loaded 1",
		"prepare 2",
		"prepare 3", "a changed 3 [global]", "b changed 3 [global]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("told\n %q\nwant\n %q", got, want)
	}
}
