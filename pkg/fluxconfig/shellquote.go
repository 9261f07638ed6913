package fluxconfig

import "strings"

// shellQuote returns s as exactly one word of POSIX shell, whatever it holds:
// words made only of characters the shell never treats specially stay as they
// are, everything else goes in single quotes, inside which the shell expands
// nothing, and each single quote becomes '"'"' (close, a quoted quote, reopen).
// A NUL byte cannot be passed to a program at all; callers reject it first.
func shellQuote(s string) string {
	if s != "" && isShellSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// isShellSafe reports whether every byte of s is one the shell passes through
// literally in any position of a word.
func isShellSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("@%+=:,./_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
