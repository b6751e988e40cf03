package plugin

import (
	"fmt"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Announcement is one parameter announcement, as Argo CD reads them from a plugin's dynamic
// parameters command.
type Announcement struct {
	Name           string            `json:"name"`
	Title          string            `json:"title,omitempty"`
	Tooltip        string            `json:"tooltip,omitempty"`
	Required       bool              `json:"required,omitempty"`
	ItemType       string            `json:"itemType,omitempty"`
	CollectionType string            `json:"collectionType,omitempty"`
	String         *string           `json:"string,omitempty"`
	Array          []string          `json:"array,omitempty"`
	Map            map[string]string `json:"map,omitempty"`
}

// Names of the informational announcements. Argo CD lets a plugin's static announcements
// (plugin.yaml) win over dynamic ones of the same name, so the dynamic command announces what
// is published under names of their own; generate rejects them if someone sets them.
const (
	InfoPublishedVersion = "publishedConfigVersion"
	InfoPublishedLayers  = "publishedLayers"
)

// LayerHead describes the published head of one layer for an announcement.
type LayerHead struct {
	Ref     config.LayerRef
	Version int
	At      time.Time
	Actor   string
	Message string
	// Withheld says Actor and Message were left out on purpose (see Published's tooltip).
	Withheld bool
}

// Published announces what "latest" renders for a cluster now: the configVersion and, per
// layer, the head version with who published it, when and why.
func Published(cluster string, version config.ConfigVersion, heads []LayerHead) []Announcement {
	v := version.String()
	layers := make(map[string]string, len(heads))
	var parts []string
	for _, h := range heads {
		if h.Version == 0 {
			layers[h.Ref.String()] = "never published"
			continue
		}
		desc := fmt.Sprintf("version %d, %s", h.Version, h.At.UTC().Format("2006-01-02 15:04 MST"))
		if h.Actor != "" {
			desc += " by " + h.Actor
		}
		if h.Message != "" {
			desc += ": " + oneline.Shorten(h.Message, 100)
		}
		layers[h.Ref.String()] = desc
		parts = append(parts, fmt.Sprintf("%s v%d", h.Ref, h.Version))
	}
	return []Announcement{
		{
			Name:           InfoPublishedVersion,
			Title:          "Published configVersion (information only)",
			Tooltip:        fmt.Sprintf("What \"latest\" renders for cluster %s now (%s). To pin it, set the configVersion parameter; do not set this one.", cluster, strings.Join(parts, ", ")),
			ItemType:       "string",
			CollectionType: "string",
			String:         &v,
		},
		{
			Name:           InfoPublishedLayers,
			Title:          "Published layers (information only)",
			Tooltip:        layersTooltip(cluster, heads),
			ItemType:       "string",
			CollectionType: "map",
			Map:            layers,
		},
	}
}

// layersTooltip says what the published-layers map holds, and why who and why are missing
// when the parameters command withheld them (see WithholdAuthors).
func layersTooltip(cluster string, heads []LayerHead) string {
	for _, h := range heads {
		if h.Withheld {
			return "The head version of each layer cluster " + cluster + " merges, and when it was published. " +
				"Who published it and why are withheld: the cluster renders only for the Argo CD projects its record lists, and Argo CD " +
				"does not tell the plugin the Application's project when it asks for parameters."
		}
	}
	return "The head version of each layer cluster " + cluster + " merges, with who published it, when and why."
}
