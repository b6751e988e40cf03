package notify

import (
	"reflect"
	"testing"
	"time"
)

func TestQueueCoalescesByKeyAndHandsOutWhatIsDue(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	q := newQueue[string](func(old, cur int) int { return old + cur })
	q.putAll([]item[string, int]{{Key: "b", Val: 1}, {Key: "a", Val: 1}}, at)
	q.put("a", 10, at.Add(time.Minute)) // merged into a: due at the earlier time
	q.put("c", 1, at.Add(time.Minute))
	if ok := q.putIfAbsent("b", 100, at); ok {
		t.Error("putIfAbsent replaced pending work")
	}
	due, next := q.take(at, 0)
	if want := []item[string, int]{{"a", 11}, {"b", 1}}; !reflect.DeepEqual(due, want) {
		t.Errorf("due %v, want %v (key order, merged)", due, want)
	}
	if !next.Equal(at.Add(time.Minute)) {
		t.Errorf("next %v, want c's due time", next)
	}
	if due, _ := q.take(at, 0); len(due) != 0 {
		t.Errorf("taken twice: %v", due)
	}
	if first, ok := q.removeFirst(); !ok || first.Key != "c" || q.len() != 0 {
		t.Errorf("removeFirst %v %v, len %d", first, ok, q.len())
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := backoff{min: time.Second, max: 4 * time.Second}
	var got []time.Duration
	for range 4 {
		got = append(got, b.next())
	}
	b.reset()
	got = append(got, b.next())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pauses %v, want %v", got, want)
	}
}
