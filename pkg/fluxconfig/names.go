package fluxconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDNSLabel is the longest DNS label (RFC 1123), and so the longest pod
// hostname.
const maxDNSLabel = 63

// ValidateBrokerName checks that name can prefix the hostnames of maxSize
// brokers: every <name>-<index> up to index maxSize-1 must be a DNS label
// (lowercase letters, digits and '-', at most 63 characters), which also
// keeps out the '_' that Flux refuses in a host name.
func ValidateBrokerName(name string, maxSize int) error {
	if maxSize < 1 {
		return fmt.Errorf("maxSize is %d, it must be at least 1", maxSize)
	}
	if err := validateDNSLabel(name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	longest := name + "-" + strconv.Itoa(maxSize-1)
	if len(longest) > maxDNSLabel {
		return fmt.Errorf("broker hostname %q is longer than %d characters: shorten the name or lower maxSize", longest, maxDNSLabel)
	}
	return nil
}

// validateDNSLabel checks an RFC 1123 label: lowercase alphanumerics and '-',
// starting and ending with an alphanumeric, at most 63 characters.
func validateDNSLabel(label string) error {
	if label == "" {
		return fmt.Errorf("is empty")
	}
	if len(label) > maxDNSLabel {
		return fmt.Errorf("%q is longer than %d characters", label, maxDNSLabel)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(label)-1) {
			return fmt.Errorf("%q is not a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)", label)
		}
	}
	return nil
}

// validateDNSSubdomain checks an RFC 1123 subdomain such as a cluster domain:
// DNS labels joined by dots, at most 253 characters.
func validateDNSSubdomain(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if err := validateDNSLabel(label); err != nil {
			return fmt.Errorf("%q is not a DNS name: label %w", name, err)
		}
	}
	return nil
}
