package fluxconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxHostlistHosts is the most hosts DecodeHostlist expands. A hostlist is
// tiny on the wire but can name millions of hosts ("n[0-99999999]"); the cap
// keeps a malformed or hostile string from exhausting memory.
const MaxHostlistHosts = 1 << 20

// maxHostlistBytes caps the total length of the names DecodeHostlist returns,
// for the same reason as MaxHostlistHosts: a long prefix times a large range.
const maxHostlistBytes = 64 << 20

// maxIDDigits is the longest numeric part (leading zeros included) that is
// treated as a number. Eighteen digits always fit an int64 with room to add
// one, so range arithmetic cannot overflow. Longer digit runs are encoded as
// literal text, and rejected inside brackets.
const maxIDDigits = 18

// EncodeHostlist compresses hosts into an RFC 29 hostlist, keeping their
// order: decoding the result gives back exactly the same list. Consecutive
// hosts that share a prefix and a zero-padding width go into one bracket,
// and ascending runs of ids become ranges:
//
//	flux-sample-0 flux-sample-1 flux-sample-2 flux-sample-7  ->  flux-sample-[0-2,7]
//	node01 node02 node10                                    ->  node[01-02,10]
//	foo0 bar1 foo1                                          ->  foo0,bar1,foo1
//
// The numeric part of a host is its trailing run of digits. A host must be
// non-empty printable ASCII without whitespace, '[', ']' or ','; anything
// else cannot be written as a hostlist and is an error.
func EncodeHostlist(hosts []string) (string, error) {
	var (
		out   strings.Builder
		group *hostGroup // the numbered hosts not written yet
	)
	write := func(expression string) {
		if out.Len() > 0 {
			out.WriteByte(',')
		}
		out.WriteString(expression)
	}
	flush := func() {
		if group != nil {
			write(group.String())
			group = nil
		}
	}
	for i, host := range hosts {
		if host == "" {
			return "", fmt.Errorf("host %d: empty host name", i)
		}
		if err := validateHostlistText(host); err != nil {
			return "", fmt.Errorf("host %d: %w", i, err)
		}
		prefix, digits := splitNumericSuffix(host)
		if digits == "" {
			flush()
			write(host)
			continue
		}
		// The digit run is at most maxIDDigits long, so this cannot fail.
		id, _ := strconv.ParseInt(digits, 10, 64)
		if group != nil && group.prefix == prefix && formatID(id, group.width) == digits {
			group.ids = append(group.ids, id)
			continue
		}
		flush()
		group = &hostGroup{prefix: prefix, width: idWidth(digits), ids: []int64{id}}
	}
	flush()
	return out.String(), nil
}

// DecodeHostlist expands an RFC 29 hostlist into its hosts, in order.
// The empty string is the empty list (RFC 29's first test vector); an empty
// expression inside a list ("a,,b"), unbalanced or nested brackets, an empty
// or reversed range, whitespace or non-ASCII text, and lists longer than
// MaxHostlistHosts are errors. Leading zeros in the first id of a bracket set
// the width of every id in it: "n[00-2]" is n00, n01, n02.
func DecodeHostlist(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	exprs, err := splitHostlist(s)
	if err != nil {
		return nil, err
	}
	var (
		hosts []string
		bytes int
	)
	for _, expr := range exprs {
		if expr == "" {
			return nil, errors.New("hostlist has an empty expression")
		}
		open := strings.IndexByte(expr, '[')
		if open < 0 {
			if err := validateHostlistText(expr); err != nil {
				return nil, err
			}
			if len(hosts)+1 > MaxHostlistHosts {
				return nil, fmt.Errorf("hostlist names more than %d hosts", MaxHostlistHosts)
			}
			hosts = append(hosts, expr)
			bytes += len(expr)
			continue
		}
		// splitHostlist guarantees a matching ']' and no nesting.
		closing := open + strings.IndexByte(expr[open:], ']')
		prefix, idlist, suffix := expr[:open], expr[open+1:closing], expr[closing+1:]
		if strings.ContainsAny(suffix, "[]") {
			return nil, fmt.Errorf("hostlist expression %q has more than one bracket", expr)
		}
		if err := validateHostlistText(prefix); err != nil {
			return nil, err
		}
		if err := validateHostlistText(suffix); err != nil {
			return nil, err
		}
		ranges, width, err := parseIDList(idlist)
		if err != nil {
			return nil, fmt.Errorf("hostlist expression %q: %w", expr, err)
		}
		for _, r := range ranges {
			count := r.last - r.first + 1
			if int64(len(hosts))+count > MaxHostlistHosts {
				return nil, fmt.Errorf("hostlist names more than %d hosts", MaxHostlistHosts)
			}
			longest := max(width, len(strconv.FormatInt(r.last, 10)))
			bytes += int(count) * (len(prefix) + longest + len(suffix))
			if bytes > maxHostlistBytes {
				return nil, fmt.Errorf("hostlist expands to more than %d bytes", maxHostlistBytes)
			}
			for id := r.first; id <= r.last; id++ {
				hosts = append(hosts, prefix+formatID(id, width)+suffix)
			}
		}
	}
	return hosts, nil
}

// BrokerHostnames returns the hostnames of a MiniCluster's brokers up to
// maxSize: name-0 ... name-(maxSize-1). They are the pods' hostnames (an
// Indexed Job pod with hostname <name>-<index>), and each broker's rank is
// its position in this list.
func BrokerHostnames(name string, maxSize int) []string {
	hosts := make([]string, 0, max(maxSize, 0))
	for index := range maxSize {
		hosts = append(hosts, name+"-"+strconv.Itoa(index))
	}
	return hosts
}

// BrokerHostlist returns the hostlist of BrokerHostnames: "name-[0-7]" for
// maxSize 8, "name-0" for maxSize 1, "" for less. The name must already be
// valid (see ValidateBrokerName); this function does not check it.
func BrokerHostlist(name string, maxSize int) string {
	switch {
	case maxSize < 1:
		return ""
	case maxSize == 1:
		return name + "-0"
	default:
		return fmt.Sprintf("%s-[0-%d]", name, maxSize-1)
	}
}

// hostGroup is one hostlist expression being built by EncodeHostlist: hosts
// that share a prefix and an id width, in order.
type hostGroup struct {
	prefix string
	width  int
	ids    []int64
}

// String writes the group as a hostlist expression: the host itself when
// it is alone, else the prefix and a bracket of ids and ascending ranges.
func (g *hostGroup) String() string {
	var out strings.Builder
	out.WriteString(g.prefix)
	if len(g.ids) == 1 {
		out.WriteString(formatID(g.ids[0], g.width))
		return out.String()
	}
	out.WriteByte('[')
	for start := 0; start < len(g.ids); {
		end := start
		for end+1 < len(g.ids) && g.ids[end+1] == g.ids[end]+1 {
			end++
		}
		if start > 0 {
			out.WriteByte(',')
		}
		out.WriteString(formatID(g.ids[start], g.width))
		if end > start {
			out.WriteByte('-')
			out.WriteString(formatID(g.ids[end], g.width))
		}
		start = end + 1
	}
	out.WriteByte(']')
	return out.String()
}

// idRange is an inclusive range of ids from a bracket.
type idRange struct{ first, last int64 }

// parseIDList parses the inside of a bracket: "0-3,7,005". It returns the
// ranges in order and the zero-padding width set by the first id.
func parseIDList(idlist string) ([]idRange, int, error) {
	if idlist == "" {
		return nil, 0, errors.New("empty brackets")
	}
	var (
		ranges []idRange
		width  int
	)
	for i, element := range strings.Split(idlist, ",") {
		firstText, lastText, isRange := strings.Cut(element, "-")
		first, err := parseID(firstText)
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			width = idWidth(firstText)
		}
		last := first
		if isRange {
			if last, err = parseID(lastText); err != nil {
				return nil, 0, err
			}
			if last < first {
				return nil, 0, fmt.Errorf("reversed range %q", element)
			}
		}
		ranges = append(ranges, idRange{first: first, last: last})
	}
	return ranges, width, nil
}

func parseID(text string) (int64, error) {
	if text == "" {
		return 0, errors.New("missing id")
	}
	if len(text) > maxIDDigits {
		return 0, fmt.Errorf("id %q has more than %d digits", text, maxIDDigits)
	}
	for _, c := range []byte(text) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("id %q is not a number", text)
		}
	}
	return strconv.ParseInt(text, 10, 64)
}

// splitHostlist splits s at the commas that are outside brackets, checking
// that brackets are balanced and not nested.
func splitHostlist(s string) ([]string, error) {
	var (
		exprs []string
		start int
		open  bool
	)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if open {
				return nil, errors.New("hostlist has nested brackets")
			}
			open = true
		case ']':
			if !open {
				return nil, errors.New("hostlist has ']' without '['")
			}
			open = false
		case ',':
			if !open {
				exprs = append(exprs, s[start:i])
				start = i + 1
			}
		}
	}
	if open {
		return nil, errors.New("hostlist has '[' without ']'")
	}
	return append(exprs, s[start:]), nil
}

// validateHostlistText checks a prefix, suffix or literal host: RFC 29 allows
// printable ASCII other than whitespace, brackets and comma.
func validateHostlistText(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '[' || c == ']' || c == ',' {
			return fmt.Errorf("character %q is not allowed in a hostlist", c)
		}
	}
	return nil
}

// splitNumericSuffix splits host into a prefix and its trailing digits. A digit
// run too long to be a number stays part of the prefix (digits is "").
func splitNumericSuffix(host string) (prefix, digits string) {
	i := len(host)
	for i > 0 && host[i-1] >= '0' && host[i-1] <= '9' {
		i--
	}
	if len(host)-i > maxIDDigits {
		return host, ""
	}
	return host[:i], host[i:]
}

// idWidth returns the zero-padding width an id's text implies: its length
// when it has a leading zero ("007" is 3), otherwise 0 (no padding).
func idWidth(digits string) int {
	if len(digits) > 1 && digits[0] == '0' {
		return len(digits)
	}
	return 0
}

func formatID(id int64, width int) string {
	text := strconv.FormatInt(id, 10)
	if len(text) < width {
		text = strings.Repeat("0", width-len(text)) + text
	}
	return text
}
