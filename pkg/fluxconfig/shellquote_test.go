package fluxconfig

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nastyWords are arguments that would do harm or break apart if a script
// printed them unquoted.
var nastyWords = []string{
	"",
	" ",
	"plain",
	"; rm -rf /",
	"$(touch /tmp/pwned)",
	"`touch /tmp/pwned`",
	"${HOME}",
	"$HOME",
	"it's",
	"'",
	"''",
	`"`,
	`\`,
	`\'`,
	`a\"b`,
	"two words",
	"tab\there",
	"new\nline",
	"*",
	"?",
	"[a-z]*",
	"~",
	"~root",
	"a|b",
	"a&b",
	"a>b",
	"<b",
	"#comment",
	"!",
	"-n",
	"--help",
	"x=$(id)",
	"{a,b}",
	"%s%n",
	"é ü 日本",
	"'$(id)'\"$(id)\"",
}

func TestShellQuote(t *testing.T) {
	tests := map[string]struct {
		word string
		want string
	}{
		"safe word stays":     {word: "flux-sample-0", want: "flux-sample-0"},
		"option stays":        {word: "-Sbroker.quorum=2", want: "-Sbroker.quorum=2"},
		"path stays":          {word: "/run/elasticflux/curve.cert", want: "/run/elasticflux/curve.cert"},
		"uri stays":           {word: "local:///run/flux/local", want: "local:///run/flux/local"},
		"empty is quoted":     {word: "", want: "''"},
		"brackets are quoted": {word: "flux-[0-7]", want: "'flux-[0-7]'"},
		"space is quoted":     {word: "a b", want: "'a b'"},
		"dollar is quoted":    {word: "$HOME", want: "'$HOME'"},
		"tilde is quoted":     {word: "~", want: "'~'"},
		"quote is escaped":    {word: "it's", want: `'it'"'"'s'`},
		"injection":           {word: "; rm -rf /", want: "'; rm -rf /'"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, shellQuote(tc.word))
		})
	}
}

// TestShellQuoteRoundTripsThroughSh hands every nasty word to a real sh and
// checks that it arrives as exactly one argument, byte for byte, and that
// nothing in it ran.
func TestShellQuoteRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	for _, word := range nastyWords {
		t.Run(word, func(t *testing.T) {
			script := "set -- " + shellQuote(word) + "\n" +
				`[ "$#" -eq 1 ] || { echo "got $# words" >&2; exit 3; }` + "\n" +
				`printf '%s' "$1"`
			out, err := exec.Command(sh, "-c", script).Output()
			require.NoError(t, err, "script: %s", script)
			assert.Equal(t, word, string(out))
		})
	}
	t.Run("all at once", func(t *testing.T) {
		quoted := make([]string, len(nastyWords))
		for i, word := range nastyWords {
			quoted[i] = shellQuote(word)
		}
		script := "for word in " + strings.Join(quoted, " ") + "; do printf '%s\\0' \"$word\"; done"
		out, err := exec.Command(sh, "-c", script).Output()
		require.NoError(t, err)
		assert.Equal(t, nastyWords, strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"))
	})
}

func FuzzShellQuote(f *testing.F) {
	for _, word := range nastyWords {
		f.Add(word)
	}
	f.Fuzz(func(t *testing.T, word string) {
		quoted := shellQuote(word)
		if isShellSafe(word) && word != "" {
			if quoted != word {
				t.Fatalf("safe word %q was quoted as %q", word, quoted)
			}
			return
		}
		// Outside the quotes there may only be the '"'"' sequences.
		if !strings.HasPrefix(quoted, "'") || !strings.HasSuffix(quoted, "'") {
			t.Fatalf("%q quoted as %q", word, quoted)
		}
		inner := quoted[1 : len(quoted)-1]
		if strings.ReplaceAll(inner, `'"'"'`, "'") != word {
			t.Fatalf("%q quoted as %q does not unquote back", word, quoted)
		}
	})
}
