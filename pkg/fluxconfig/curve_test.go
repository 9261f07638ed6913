package fluxconfig

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedRandom is a repeatable stand-in for crypto/rand.
func fixedRandom(seed byte) *bytes.Reader {
	data := make([]byte, 64)
	for i := range data {
		data[i] = seed + byte(i)*7
	}
	return bytes.NewReader(data)
}

// certValue digs the value of key out of certificate text, for tests only:
// the package itself never hands the secret key out.
func certValue(t *testing.T, cert []byte, key string) string {
	t.Helper()
	for line := range strings.Lines(string(cert)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " = "); ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("no %s in certificate", key)
	return ""
}

func TestNewCurveCertificateGolden(t *testing.T) {
	cert, err := NewCurveCertificate("flux-sample", fixedRandom(1))
	require.NoError(t, err)
	assertGolden(t, "curve.cert.golden", cert)

	again, err := NewCurveCertificate("flux-sample", fixedRandom(1))
	require.NoError(t, err)
	assert.Equal(t, cert, again, "the same random bytes must give the same certificate")
}

func TestNewCurveCertificatePublicKeyDerivesFromSecret(t *testing.T) {
	for seed := range byte(8) {
		cert, err := NewCurveCertificate("flux-sample", fixedRandom(seed))
		require.NoError(t, err)

		secret, err := DecodeZ85(certValue(t, cert, "secret-key"))
		require.NoError(t, err)
		require.Len(t, secret, 32)
		privateKey, err := ecdh.X25519().NewPrivateKey(secret)
		require.NoError(t, err)
		wantPublic, err := EncodeZ85(privateKey.PublicKey().Bytes())
		require.NoError(t, err)
		assert.Equal(t, wantPublic, certValue(t, cert, "public-key"))
		assert.Len(t, certValue(t, cert, "public-key"), 40)
		assert.Len(t, certValue(t, cert, "secret-key"), 40)

		parsed, err := ParseCurveCertificate(cert)
		require.NoError(t, err)
		assert.Equal(t, CurveCertificate{Name: "flux-sample", PublicKey: wantPublic}, parsed)
	}
}

func TestNewCurveCertificateFormat(t *testing.T) {
	cert, err := NewCurveCertificate("flux-sample", fixedRandom(3))
	require.NoError(t, err)
	var sections, entries []string
	for line := range strings.Lines(string(cert)) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "    "):
			assert.NotEqual(t, ' ', line[4], "keys are indented by exactly four spaces")
			assert.Regexp(t, `^    [a-z-]+ = "[^"]*"$`, line)
			entries = append(entries, strings.Fields(line)[0])
		default:
			sections = append(sections, line)
		}
	}
	assert.Equal(t, []string{"metadata", "curve"}, sections)
	assert.Equal(t, []string{"name", "public-key", "secret-key"}, entries)
}

func TestNewCurveCertificateUsesCryptoRandByDefault(t *testing.T) {
	first, err := NewCurveCertificate("flux-sample", nil)
	require.NoError(t, err)
	second, err := NewCurveCertificate("flux-sample", nil)
	require.NoError(t, err)
	assert.NotEqual(t, certValue(t, first, "secret-key"), certValue(t, second, "secret-key"))
	_, err = ParseCurveCertificate(first)
	assert.NoError(t, err)
}

func TestNewCurveCertificateShortRandom(t *testing.T) {
	_, err := NewCurveCertificate("flux-sample", bytes.NewReader(make([]byte, 31)))
	assert.Error(t, err)
	_, err = NewCurveCertificate("flux-sample", iotest.ErrReader(fmt.Errorf("no entropy")))
	assert.ErrorContains(t, err, "no entropy")
}

func TestNewCurveCertificateName(t *testing.T) {
	tests := map[string]struct {
		name    string
		wantErr bool
	}{
		"kubernetes name":   {name: "flux-sample"},
		"namespaced":        {name: "default/flux-sample"},
		"space and symbols": {name: "cluster 1 (test) @site #2 [a]{b}<c>"},
		"every symbol":      {name: ".-:+=^!/*?&<>()[]{}@%$# "},
		"underscore":        {name: "flux_sample", wantErr: true},
		"empty":             {name: "", wantErr: true},
		"double quote":      {name: `a"b`, wantErr: true},
		"single quote":      {name: "a'b", wantErr: true},
		"backslash":         {name: `a\b`, wantErr: true},
		"tab":               {name: "a\tb", wantErr: true},
		"newline":           {name: "a\nsecret-key = \"x\"", wantErr: true},
		"non-ASCII":         {name: "grappe-é", wantErr: true},
		"longest":           {name: strings.Repeat("a", maxCurveCertName)},
		"too long":          {name: strings.Repeat("a", maxCurveCertName+1), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cert, err := NewCurveCertificate(tc.name, fixedRandom(2))
			if tc.wantErr {
				assert.Error(t, err)
				assert.Nil(t, cert)
				return
			}
			require.NoError(t, err)
			parsed, err := ParseCurveCertificate(cert)
			require.NoError(t, err)
			assert.Equal(t, tc.name, parsed.Name)
		})
	}
}

// Flux reads certificate values from a fixed character set; Z85 keys must
// always fit it, whatever the random bytes.
func TestZ85AlphabetFitsZPLValues(t *testing.T) {
	for _, c := range []byte(z85Alphabet) {
		assert.True(t, onlyZPLChars(string(c), zplValueSymbols), "Z85 character %q is not a valid ZPL value character", c)
	}
	assert.NotContains(t, z85Alphabet, "_")
	assert.NotContains(t, z85Alphabet, `"`)
	assert.Len(t, z85Alphabet, 85)
}

func TestParseCurveCertificateAcceptsFluxKeygenLayout(t *testing.T) {
	cert, err := NewCurveCertificate("flux-sample", fixedRandom(4))
	require.NoError(t, err)
	public := certValue(t, cert, "public-key")
	secret := certValue(t, cert, "secret-key")
	text := "#   ZeroMQ CURVE certificate\r\n" +
		"#   comment\n" +
		"\n" +
		"metadata\n" +
		"    name = \"login1\"\n" +
		"    keygen.hostname = \"login1\"\n" +
		"\tkeygen.time = \"2026-01-01T00:00:00\"\n" +
		"curve\n" +
		"    public-key = \"" + public + "\"\r\n" +
		"    secret-key = \"" + secret + "\"\n"
	parsed, err := ParseCurveCertificate([]byte(text))
	require.NoError(t, err)
	assert.Equal(t, CurveCertificate{Name: "login1", PublicKey: public}, parsed)
}

func TestParseCurveCertificateRejects(t *testing.T) {
	cert, err := NewCurveCertificate("flux-sample", fixedRandom(5))
	require.NoError(t, err)
	other, err := NewCurveCertificate("flux-sample", fixedRandom(6))
	require.NoError(t, err)
	public := certValue(t, cert, "public-key")
	secret := certValue(t, cert, "secret-key")
	good := string(cert)
	replace := func(old, new string) string {
		require.Contains(t, good, old)
		return strings.Replace(good, old, new, 1)
	}
	tests := map[string]string{
		"empty":             "",
		"no metadata":       replace("metadata\n    name = \"flux-sample\"\n", ""),
		"no name":           replace("    name = \"flux-sample\"\n", "    owner = \"me\"\n"),
		"empty name":        replace(`name = "flux-sample"`, `name = ""`),
		"no public key":     replace("    public-key = \""+public+"\"\n", ""),
		"no secret key":     replace("    secret-key = \""+secret+"\"\n", ""),
		"keys not a pair":   replace(secret, certValue(t, other, "secret-key")),
		"keys swapped":      replace("public-key = \""+public, "public-key = \""+secret),
		"short key":         replace(secret, secret[:35]),
		"not z85":           replace(secret, "_"+secret[1:]),
		"z85 overflow":      replace(secret, "%nSc1"+secret[5:]),
		"unquoted value":    replace(`"`+secret+`"`, secret),
		"single quotes":     replace(`"`+secret+`"`, "'"+secret+"'"),
		"no equals sign":    replace(`secret-key = "`, `secret-key "`),
		"underscore key":    replace("public-key", "public_key"),
		"unknown curve key": replace("public-key", "publickey"),
		"repeated key":      good + "    secret-key = \"" + secret + "\"\n",
		"repeated metadata": replace("    name = \"flux-sample\"\n", "    name = \"a\"\n    name = \"b\"\n"),
		"bad value char":    replace(`name = "flux-sample"`, `name = "flux_sample"`),
		"unknown section":   good + "extra\n",
		"indented section":  replace("curve\n", "  curve\n"),
		"key outside":       "    name = \"x\"\n" + good,
		"line too long":     replace(`name = "flux-sample"`, `name = "`+strings.Repeat("a", 250)+`"`),
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCurveCertificate([]byte(text))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), secret, "errors must never show the secret key")
			assert.NotContains(t, err.Error(), secret[:20])
		})
	}
}

// The parsed certificate holds public parts only, so no way of printing it
// can show the secret.
func TestCurveCertificateHoldsNoSecret(t *testing.T) {
	cert, err := NewCurveCertificate("flux-sample", fixedRandom(7))
	require.NoError(t, err)
	secret := certValue(t, cert, "secret-key")
	parsed, err := ParseCurveCertificate(cert)
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, parsed), secret)
	}
}
