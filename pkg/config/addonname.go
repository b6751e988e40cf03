package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxAddonAppName bounds an add-on Application's name: Argo CD writes the name into the
// app.kubernetes.io/instance label of the objects it applies, and a label value holds at most
// 63 characters.
const maxAddonAppName = 63

// addonHashLen is the length of the hash suffix of a disambiguated add-on Application name.
const addonHashLen = 8

// AddonApplicationName is the name of the Argo CD Application that renders a cluster's
// add-on. Every cluster's add-on Applications share Argo CD's namespace, so the name must tell
// the pair (cluster, add-on) apart from every other pair: "<cluster>-<addon>" alone would give
// cluster "a" with add-on "b-x" and cluster "a-b" with add-on "x" the same name.
//
// It is "<cluster>-<addon>" when the add-on's name holds no "-" (two such names are equal only
// for equal pairs, since cluster names hold no other separator) and the result fits in 63
// characters; otherwise "<cluster>-<addon>", shortened to fit, followed by "-" and the first 8
// hex digits of the SHA-256 of "<cluster>/<addon>". The name is stable (a function of the two
// names only) and a valid DNS label.
func AddonApplicationName(cluster, addon string) string {
	name := cluster + "-" + addon
	if !strings.Contains(addon, "-") && len(name) <= maxAddonAppName {
		return name
	}
	sum := sha256.Sum256([]byte(cluster + "/" + addon))
	if room := maxAddonAppName - 1 - addonHashLen; len(name) > room {
		name = strings.TrimRight(name[:room], "-")
	}
	return name + "-" + hex.EncodeToString(sum[:])[:addonHashLen]
}
