package plugin

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// A long publish message in the published-layers map is one line of valid UTF-8: Argo CD
// shows it in its UI and refuses invalid JSON strings.
func TestPublishedShortensMessageOnRuneBoundary(t *testing.T) {
	ref, err := config.ParseLayerRef("global")
	if err != nil {
		t.Fatal(err)
	}
	msg := "raise the quota\r\n" + strings.Repeat("é", 200)
	got := Published("c1", config.ConfigVersion{Global: 3}, []LayerHead{{
		Ref: ref, Version: 3, At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Actor: "ana", Message: msg,
	}})
	desc := got[1].Map[ref.String()]
	if !utf8.ValidString(desc) {
		t.Errorf("description %q is not valid UTF-8", desc)
	}
	if strings.ContainsAny(desc, "\r\n") {
		t.Errorf("description %q is not on one line", desc)
	}
	want := "version 3, 2026-12-01 10:00 UTC by ana: raise the quota " + strings.Repeat("é", 100-len("raise the quota ")) + "…"
	if desc != want {
		t.Errorf("description = %q, want %q", desc, want)
	}
}
