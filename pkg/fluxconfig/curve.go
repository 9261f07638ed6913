package fluxconfig

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
)

// curveKeySize is the size of a CURVE (X25519) key; in Z85 it is 40 characters.
const curveKeySize = 32

// maxCurveCertName bounds the certificate's metadata name. Flux reads the
// certificate a line at a time into a 256-byte buffer, so every line must
// stay well under that.
const maxCurveCertName = 200

// maxCurveCertLine is the longest certificate line Flux reads whole
// (a 256-byte buffer holding the line, its newline and a NUL).
const maxCurveCertLine = 254

// zplValueSymbols are the characters besides ASCII letters and digits that a
// ZPL value may hold when Flux reads the certificate (space too). It is
// exactly the set of Z85 symbols, so keys always fit.
const zplValueSymbols = ".-:+=^!/*?&<>()[]{}@%$# "

// zplKeySymbols are the characters besides ASCII letters and digits that a
// ZPL key may hold when Flux reads the certificate.
const zplKeySymbols = ".-"

// CurveCertificate describes a checked CURVE certificate by its public parts.
// It deliberately holds no secret key: the secret stays in the certificate
// text, which belongs in a Kubernetes Secret and nowhere else, so there is
// nothing here that printing or logging could leak.
type CurveCertificate struct {
	// Name is the certificate's metadata name; Flux logs it when a peer
	// authenticates.
	Name string
	// PublicKey is the Z85 text of the public key (40 characters).
	PublicKey string
}

// NewCurveCertificate generates the CURVE certificate that all brokers of one
// MiniCluster share, in the ZPL text format Flux reads (the file flux-keygen
// writes): a metadata section with the name, and a curve section with the
// X25519 public and secret keys in Z85. The secret key is 32 bytes read from
// random (crypto/rand when nil; a fixed reader gives a repeatable certificate
// for tests). The name must be 1 to 200 characters of ASCII letters, digits,
// space and .-:+=^!/*?&<>()[]{}@%$# (a Kubernetes name always is).
//
// The returned text contains the secret key: store it in a Secret, mount it
// with mode 0400 or 0600, never log it.
func NewCurveCertificate(name string, random io.Reader) ([]byte, error) {
	if err := validateCurveCertName(name); err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	secret := make([]byte, curveKeySize)
	defer clear(secret)
	if _, err := io.ReadFull(random, secret); err != nil {
		return nil, fmt.Errorf("reading random bytes for the curve secret key: %w", err)
	}
	privateKey, err := ecdh.X25519().NewPrivateKey(secret)
	if err != nil {
		return nil, fmt.Errorf("making the curve key pair: %w", err)
	}
	publicText, err := EncodeZ85(privateKey.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	secretText, err := EncodeZ85(secret)
	if err != nil {
		return nil, err
	}
	var cert bytes.Buffer
	cert.WriteString("#   CURVE certificate shared by the Flux brokers of one MiniCluster.\n")
	cert.WriteString("#   It holds the secret key: keep it in a Secret, readable by its owner only.\n")
	cert.WriteString("\n")
	cert.WriteString("metadata\n")
	writeZPLEntry(&cert, "name", name)
	cert.WriteString("curve\n")
	writeZPLEntry(&cert, "public-key", publicText)
	writeZPLEntry(&cert, "secret-key", secretText)
	return cert.Bytes(), nil
}

// ParseCurveCertificate checks that cert is a CURVE certificate Flux will
// accept, such as one a user supplies in an existing Secret: ZPL sections
// metadata (with a name) and curve (with public-key and secret-key, 40 Z85
// characters each), and a public key that is the X25519 public key of the
// secret key. It returns the public parts only. Errors name line numbers,
// never the text of a line, so they are safe to show in events and logs.
func ParseCurveCertificate(cert []byte) (CurveCertificate, error) {
	var (
		parsed      CurveCertificate
		section     string
		sawMetadata bool
		metadata    = map[string]bool{}
		publicKey   []byte
		secretKey   []byte
	)
	defer func() { clear(secretKey) }()
	scanner := bufio.NewScanner(bytes.NewReader(cert))
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := scanner.Text()
		if len(line) > maxCurveCertLine {
			return CurveCertificate{}, fmt.Errorf("curve certificate line %d is longer than %d characters", lineNumber, maxCurveCertLine)
		}
		indented := strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
		text := strings.TrimSpace(line)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !indented {
			switch text {
			case "metadata":
				sawMetadata = true
			case "curve":
			default:
				return CurveCertificate{}, fmt.Errorf("curve certificate line %d: only the sections metadata and curve are allowed", lineNumber)
			}
			section = text
			continue
		}
		key, value, err := parseZPLKeyValue(text)
		if err != nil {
			return CurveCertificate{}, fmt.Errorf("curve certificate line %d: %w", lineNumber, err)
		}
		switch section {
		case "metadata":
			if metadata[key] {
				return CurveCertificate{}, fmt.Errorf("curve certificate line %d: metadata key repeated", lineNumber)
			}
			metadata[key] = true
			if key == "name" {
				parsed.Name = value
			}
		case "curve":
			keyBytes, err := decodeCurveKey(value)
			if err != nil {
				return CurveCertificate{}, fmt.Errorf("curve certificate line %d: %w", lineNumber, err)
			}
			switch {
			case key == "public-key" && publicKey == nil:
				publicKey = keyBytes
				parsed.PublicKey = value
			case key == "secret-key" && secretKey == nil:
				secretKey = keyBytes
			default:
				clear(keyBytes)
				return CurveCertificate{}, fmt.Errorf("curve certificate line %d: the curve section holds public-key and secret-key once each", lineNumber)
			}
		default:
			return CurveCertificate{}, fmt.Errorf("curve certificate line %d: key outside a section", lineNumber)
		}
	}
	if err := scanner.Err(); err != nil {
		return CurveCertificate{}, fmt.Errorf("reading curve certificate: %w", err)
	}
	switch {
	case !sawMetadata || parsed.Name == "":
		return CurveCertificate{}, errors.New("curve certificate has no metadata name (Flux refuses peers without one)")
	case publicKey == nil:
		return CurveCertificate{}, errors.New("curve certificate has no public-key")
	case secretKey == nil:
		return CurveCertificate{}, errors.New("curve certificate has no secret-key")
	}
	privateKey, err := ecdh.X25519().NewPrivateKey(secretKey)
	if err != nil {
		return CurveCertificate{}, errors.New("curve certificate secret-key is not an X25519 key")
	}
	if !bytes.Equal(privateKey.PublicKey().Bytes(), publicKey) {
		return CurveCertificate{}, errors.New("curve certificate public-key is not the public key of its secret-key")
	}
	return parsed, nil
}

// writeZPLEntry writes one indented `key = "value"` line. The value needs no
// escaping: callers only pass text from the ZPL value character set, which has
// neither quotes nor backslashes.
func writeZPLEntry(cert *bytes.Buffer, key, value string) {
	cert.WriteString("    " + key + " = \"" + value + "\"\n")
}

// parseZPLKeyValue splits `key = "value"` the way Flux reads certificate
// entries: key of letters, digits, '.' and '-', value in double quotes from
// the ZPL value character set. Errors never quote the line.
func parseZPLKeyValue(text string) (key, value string, err error) {
	key, quoted, found := strings.Cut(text, "=")
	if !found {
		return "", "", errors.New(`expected key = "value"`)
	}
	key = strings.TrimSpace(key)
	quoted = strings.TrimSpace(quoted)
	if key == "" || !onlyZPLChars(key, zplKeySymbols) {
		return "", "", errors.New("key must be letters, digits, '.' and '-'")
	}
	if len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
		return "", "", errors.New("value must be in double quotes")
	}
	value = quoted[1 : len(quoted)-1]
	if !onlyZPLChars(value, zplValueSymbols+"\t") {
		return "", "", fmt.Errorf("value may hold only letters, digits and %q", zplValueSymbols)
	}
	return key, value, nil
}

func decodeCurveKey(text string) ([]byte, error) {
	if len(text) != 40 {
		return nil, errors.New("a curve key is 40 Z85 characters")
	}
	key, err := DecodeZ85(text)
	if err != nil {
		return nil, errors.New("a curve key is 40 Z85 characters")
	}
	return key, nil
}

// validateCurveCertName checks a certificate name against the characters
// Flux accepts in a ZPL value (no '_', no quotes, no tab so it stays simple).
func validateCurveCertName(name string) error {
	switch {
	case name == "":
		return errors.New("curve certificate name is empty")
	case len(name) > maxCurveCertName:
		return fmt.Errorf("curve certificate name is longer than %d characters", maxCurveCertName)
	case !onlyZPLChars(name, zplValueSymbols):
		return fmt.Errorf("curve certificate name %q may hold only ASCII letters, digits and %q", name, zplValueSymbols)
	}
	return nil
}

func onlyZPLChars(s, symbols string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		isAlnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !isAlnum && strings.IndexByte(symbols, c) < 0 {
			return false
		}
	}
	return true
}
