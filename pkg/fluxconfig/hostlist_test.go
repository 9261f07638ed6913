package fluxconfig

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeHostlist(t *testing.T) {
	tests := map[string]struct {
		hosts []string
		want  string
	}{
		"empty":              {hosts: nil, want: ""},
		"one numbered host":  {hosts: []string{"flux-sample-0"}, want: "flux-sample-0"},
		"one literal host":   {hosts: []string{"login"}, want: "login"},
		"range and a single": {hosts: []string{"flux-sample-0", "flux-sample-1", "flux-sample-2", "flux-sample-3", "flux-sample-7"}, want: "flux-sample-[0-3,7]"},
		"two consecutive":    {hosts: []string{"n0", "n1"}, want: "n[0-1]"},
		"zero padding kept":  {hosts: []string{"node01", "node02"}, want: "node[01-02]"},
		"padded then wider":  {hosts: []string{"node08", "node09", "node10", "node100"}, want: "node[08-10,100]"},
		"widths differ": {
			hosts: []string{"node1", "node01"},
			want:  "node1,node01",
		},
		"unpadded then padded is a new group": {
			hosts: []string{"node10", "node05"},
			want:  "node10,node05",
		},
		"order kept, not sorted": {
			hosts: []string{"foo0", "foo1", "foo2", "foo3", "foo18", "foo4", "foo20"},
			want:  "foo[0-3,18,4,20]",
		},
		"descending stays a list": {hosts: []string{"n3", "n2", "n1"}, want: "n[3,2,1]"},
		"repeats kept":            {hosts: []string{"foo1", "foo1", "foo2", "foo1"}, want: "foo[1,1-2,1]"},
		"several prefixes in order": {
			hosts: []string{"a0", "a1", "b0", "b1", "a2"},
			want:  "a[0-1],b[0-1],a2",
		},
		"literals between numbers": {
			hosts: []string{"n0", "login", "n1"},
			want:  "n0,login,n1",
		},
		"no prefix": {hosts: []string{"1", "2", "3", "5", "6"}, want: "[1-3,5-6]"},
		"digits inside the name": {
			hosts: []string{"foo0-eth2", "foo1-eth2"},
			want:  "foo0-eth2,foo1-eth2",
		},
		"prefix ending in a dash and digits": {
			hosts: []string{"flux-1-0", "flux-1-1"},
			want:  "flux-1-[0-1]",
		},
		"a digit run too long to be a number stays literal": {
			hosts: []string{"n1234567890123456789", "n1234567890123456790"},
			want:  "n1234567890123456789,n1234567890123456790",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := EncodeHostlist(tc.hosts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			back, err := DecodeHostlist(got)
			require.NoError(t, err)
			assert.Equal(t, len(tc.hosts), len(back))
			if len(tc.hosts) > 0 {
				assert.Equal(t, tc.hosts, back, "decode(encode(hosts)) must give hosts back")
			}
		})
	}
}

func TestEncodeHostlistRejects(t *testing.T) {
	tests := map[string][]string{
		"empty host":   {"a", ""},
		"comma":        {"a,b"},
		"bracket":      {"a[1]"},
		"closing only": {"a]"},
		"space":        {"a b"},
		"tab":          {"a\tb"},
		"newline":      {"a\n"},
		"non-ASCII":    {"nœud1"},
		"control byte": {"a\x00"},
	}
	for name, hosts := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := EncodeHostlist(hosts)
			assert.Error(t, err)
		})
	}
}

func TestDecodeHostlist(t *testing.T) {
	tests := map[string]struct {
		hostlist string
		want     []string
	}{
		// The test vectors of RFC 29.
		"rfc empty":           {hostlist: "", want: []string{}},
		"rfc literals":        {hostlist: "foox,fooy,fooz", want: []string{"foox", "fooy", "fooz"}},
		"rfc bare idlist":     {hostlist: "[1-3,5-6]", want: []string{"1", "2", "3", "5", "6"}},
		"rfc range":           {hostlist: "foo[1-5]", want: []string{"foo1", "foo2", "foo3", "foo4", "foo5"}},
		"rfc suffix":          {hostlist: "foo[0-4]-eth2", want: []string{"foo0-eth2", "foo1-eth2", "foo2-eth2", "foo3-eth2", "foo4-eth2"}},
		"rfc repeated":        {hostlist: "foo1,foo1,foo1", want: []string{"foo1", "foo1", "foo1"}},
		"rfc padded":          {hostlist: "[00-02]", want: []string{"00", "01", "02"}},
		"rfc first sets pad":  {hostlist: "[00-2]", want: []string{"00", "01", "02"}},
		"rfc repeats in list": {hostlist: "foo[1,1,2,1]", want: []string{"foo1", "foo1", "foo2", "foo1"}},
		// The examples of flux-config-bootstrap(5) and design.md.
		"unsorted":     {hostlist: "foo[0-3,18,4,20]", want: []string{"foo0", "foo1", "foo2", "foo3", "foo18", "foo4", "foo20"}},
		"two prefixes": {hostlist: "foo[0-1],bar1", want: []string{"foo0", "foo1", "bar1"}},
		"broker list":  {hostlist: "flux-sample-[0-3]", want: []string{"flux-sample-0", "flux-sample-1", "flux-sample-2", "flux-sample-3"}},
		"padding from the first id only": {
			hostlist: "n[005,4,11-13]",
			want:     []string{"n005", "n004", "n011", "n012", "n013"},
		},
		"padding grows past its width": {hostlist: "n[09-10,100]", want: []string{"n09", "n10", "n100"}},
		"single id in brackets":        {hostlist: "n[7]", want: []string{"n7"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeHostlist(tc.hostlist)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeHostlistRejects(t *testing.T) {
	tests := map[string]string{
		"empty expression":      "a,,b",
		"leading comma":         ",a",
		"trailing comma":        "a,",
		"unclosed bracket":      "a[1-3",
		"unopened bracket":      "a1-3]",
		"nested brackets":       "a[1[2]]",
		"two brackets":          "a[1-2]b[3-4]",
		"empty brackets":        "a[]",
		"empty id":              "a[1,,2]",
		"open range":            "a[1-]",
		"range without start":   "a[-1]",
		"reversed range":        "a[3-1]",
		"double dash":           "a[1-2-3]",
		"letters in brackets":   "a[x]",
		"sign in brackets":      "a[+1]",
		"space":                 "a b",
		"space in brackets":     "a[1, 2]",
		"non-ASCII":             "nœud[1-2]",
		"control byte":          "a\x00",
		"id too long":           "a[1234567890123456789]",
		"more hosts than cap":   fmt.Sprintf("a[0-%d]", MaxHostlistHosts),
		"cap across many lists": strings.Repeat("a[0-99999],", 11) + "a0",
		"huge range":            "a[0-999999999999999999]",
		"huge expansion in bytes": fmt.Sprintf("%s[0-%d]",
			strings.Repeat("x", 1000), 100000),
	}
	for name, hostlist := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeHostlist(hostlist)
			assert.Error(t, err)
			assert.Nil(t, got)
		})
	}
}

func TestDecodeHostlistAtCap(t *testing.T) {
	hosts, err := DecodeHostlist(fmt.Sprintf("n[1-%d]", MaxHostlistHosts))
	require.NoError(t, err)
	assert.Len(t, hosts, MaxHostlistHosts)
}

func TestBrokerHostnames(t *testing.T) {
	tests := map[string]struct {
		maxSize      int
		wantHosts    []string
		wantHostlist string
	}{
		"zero":  {maxSize: 0, wantHosts: []string{}, wantHostlist: ""},
		"one":   {maxSize: 1, wantHosts: []string{"flux-sample-0"}, wantHostlist: "flux-sample-0"},
		"two":   {maxSize: 2, wantHosts: []string{"flux-sample-0", "flux-sample-1"}, wantHostlist: "flux-sample-[0-1]"},
		"eight": {maxSize: 8, wantHostlist: "flux-sample-[0-7]"},
		"large": {maxSize: 1000, wantHostlist: "flux-sample-[0-999]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hosts := BrokerHostnames("flux-sample", tc.maxSize)
			assert.Len(t, hosts, tc.maxSize)
			if tc.wantHosts != nil {
				assert.Equal(t, tc.wantHosts, hosts)
			}
			assert.Equal(t, tc.wantHostlist, BrokerHostlist("flux-sample", tc.maxSize))
			encoded, err := EncodeHostlist(hosts)
			require.NoError(t, err)
			assert.Equal(t, encoded, BrokerHostlist("flux-sample", tc.maxSize), "BrokerHostlist must be the hostlist of BrokerHostnames")
		})
	}
}

// hostsFromFuzz turns fuzz bytes into a list of valid host names that
// exercises the encoder: a few prefixes, zero padding, runs of consecutive
// ids, repeats, descents, and literal names. Only the first kilobyte counts:
// longer lists find nothing new and slow the fuzzer down.
func hostsFromFuzz(data []byte) []string {
	data = data[:min(len(data), 1024)]
	prefixes := []string{"", "n", "flux-sample-", "node", "a1b", "x-0-"}
	var (
		hosts []string
		id    int
	)
	for i := 0; i+1 < len(data); i += 2 {
		op, arg := data[i], int(data[i+1])
		prefix := prefixes[int(op>>4)%len(prefixes)]
		switch op % 8 {
		case 0, 1, 2: // the next id: most lists are runs
			id++
		case 3: // jump ahead
			id += arg
		case 4: // go back
			id = max(id-arg, 0)
		case 5: // repeat
		case 6: // a literal name, no trailing digits
			hosts = append(hosts, prefix+"login"+strings.Repeat("z", arg%3))
			continue
		case 7: // a fresh id
			id = arg * 997
		}
		width := 0
		if op&0x08 != 0 {
			width = 1 + arg%4 // zero padding, often wider than the id
		}
		hosts = append(hosts, fmt.Sprintf("%s%0*d", prefix, width, id))
	}
	return hosts
}

func FuzzHostlistRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 3, 4, 0, 0})
	f.Add([]byte{0x18, 1, 0x18, 1, 0x18, 1, 0x24, 3, 0x35, 0, 0x06, 2})
	f.Add([]byte{0x1f, 9, 0x20, 5, 0x4c, 250, 0x09, 1, 0x0d, 0, 0x5a, 77})
	f.Fuzz(func(t *testing.T, data []byte) {
		hosts := hostsFromFuzz(data)
		encoded, err := EncodeHostlist(hosts)
		if err != nil {
			t.Fatalf("encoding %q: %v", hosts, err)
		}
		decoded, err := DecodeHostlist(encoded)
		if err != nil {
			t.Fatalf("decoding %q (from %q): %v", encoded, hosts, err)
		}
		if len(hosts) == 0 {
			if len(decoded) != 0 {
				t.Fatalf("decoding %q gave %q, want no hosts", encoded, decoded)
			}
			return
		}
		if !slices.Equal(hosts, decoded) {
			t.Fatalf("decode(encode(%q)) = %q via %q", hosts, decoded, encoded)
		}
	})
}

func FuzzDecodeHostlist(f *testing.F) {
	for _, seed := range []string{
		"", "foo[1-5]", "foo[0-4]-eth2", "[00-2]", "foo[1,1,2,1]", "a,,b", "a[1[2]]",
		"n[005,4,11-13]", "x[3-1]", "flux-sample-[0-7]", "a[0-99999999]", "p[1]q,r[2-3]s",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, hostlist string) {
		hosts, err := DecodeHostlist(hostlist)
		if err != nil {
			return
		}
		encoded, err := EncodeHostlist(hosts)
		if err != nil {
			t.Fatalf("decoded %q to %q, which does not encode: %v", hostlist, hosts, err)
		}
		again, err := DecodeHostlist(encoded)
		if err != nil {
			t.Fatalf("re-encoded %q as %q, which does not decode: %v", hostlist, encoded, err)
		}
		if !slices.Equal(hosts, again) {
			t.Fatalf("%q decodes to %q, re-encoded as %q decodes to %q", hostlist, hosts, encoded, again)
		}
	})
}
