package fluxconfig

import (
	"encoding/binary"
	"fmt"
)

// z85Alphabet is the ZeroMQ Base-85 alphabet of RFC 32, in digit order.
const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// z85Digits maps a character to its Z85 digit value plus one; zero marks a
// character outside the alphabet.
var z85Digits = func() [256]byte {
	var digits [256]byte
	for i := range len(z85Alphabet) {
		digits[z85Alphabet[i]] = byte(i + 1)
	}
	return digits
}()

// EncodeZ85 encodes data as Z85 (RFC 32): every four bytes, read as a
// big-endian number, become five characters. The length of data must be a
// multiple of four; CURVE keys (32 bytes) become 40 characters.
func EncodeZ85(data []byte) (string, error) {
	if len(data)%4 != 0 {
		return "", fmt.Errorf("z85: %d bytes is not a multiple of 4", len(data))
	}
	out := make([]byte, 0, len(data)/4*5)
	var chunk [5]byte
	for i := 0; i < len(data); i += 4 {
		value := binary.BigEndian.Uint32(data[i:])
		for j := 4; j >= 0; j-- {
			chunk[j] = z85Alphabet[value%85]
			value /= 85
		}
		out = append(out, chunk[:]...)
	}
	return string(out), nil
}

// DecodeZ85 decodes Z85 text (RFC 32). Its length must be a multiple of five,
// every character must be in the Z85 alphabet, and each group of five must
// stand for a number that fits in four bytes.
func DecodeZ85(text string) ([]byte, error) {
	if len(text)%5 != 0 {
		return nil, fmt.Errorf("z85: %d characters is not a multiple of 5", len(text))
	}
	out := make([]byte, 0, len(text)/5*4)
	for i := 0; i < len(text); i += 5 {
		var value uint64
		for j := range 5 {
			digit := z85Digits[text[i+j]]
			if digit == 0 {
				return nil, fmt.Errorf("z85: character at offset %d is not in the alphabet", i+j)
			}
			value = value*85 + uint64(digit-1)
		}
		if value > 0xFFFFFFFF {
			return nil, fmt.Errorf("z85: group at offset %d overflows four bytes", i)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(value))
	}
	return out, nil
}
