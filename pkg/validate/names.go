package validate

// Fast, allocation-free acceptance checks for the names validation sees on every object.
// They only ever short-cut to "valid": when one says no, validation asks
// k8s.io/apimachinery's validators, which decide and word the message. A fuzz test
// (FuzzNameChecks) holds them to never accept what apimachinery rejects.

func isAlnumLower(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isAlnumLower(c) || c >= 'A' && c <= 'Z' }

// isDNSLabel: 1-63 characters of [a-z0-9-], starting and ending alphanumeric.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnumLower(s[0]) || !isAlnumLower(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnumLower(c) && c != '-' {
			return false
		}
	}
	return true
}

// isDNSSubdomain: at most 253 characters; dot-separated parts as in a DNS label (without
// the per-part length limit, as Kubernetes checks it).
func isDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			part := s[start:i]
			if len(part) == 0 || !isAlnumLower(part[0]) || !isAlnumLower(part[len(part)-1]) {
				return false
			}
			for j := 1; j < len(part)-1; j++ {
				if c := part[j]; !isAlnumLower(c) && c != '-' {
					return false
				}
			}
			start = i + 1
		}
	}
	return true
}

// isNamePart: 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric (the name
// part of a qualified name, and a non-empty label value).
func isNamePart(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isLabelValue: empty, or a name part.
func isLabelValue(s string) bool { return s == "" || isNamePart(s) }

// isQualifiedName: [DNS-subdomain prefix "/"] name part.
func isQualifiedName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return isDNSSubdomain(s[:i]) && isNamePart(s[i+1:])
		}
	}
	return isNamePart(s)
}
