package fluxconfig

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZ85(t *testing.T) {
	tests := map[string]struct {
		data []byte
		text string
	}{
		"empty": {data: []byte{}, text: ""},
		// The test vector of RFC 32.
		"rfc 32 HelloWorld": {data: []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, text: "HelloWorld"},
		"zeros":             {data: []byte{0, 0, 0, 0}, text: "00000"},
		"all ones":          {data: []byte{0xFF, 0xFF, 0xFF, 0xFF}, text: "%nSc0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			text, err := EncodeZ85(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.text, text)
			data, err := DecodeZ85(tc.text)
			require.NoError(t, err)
			assert.Equal(t, tc.data, data)
		})
	}
}

func TestZ85RoundTripsEveryByte(t *testing.T) {
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	text, err := EncodeZ85(data)
	require.NoError(t, err)
	assert.Len(t, text, 320)
	back, err := DecodeZ85(text)
	require.NoError(t, err)
	assert.Equal(t, data, back)
}

func TestZ85Rejects(t *testing.T) {
	t.Run("encode length not a multiple of 4", func(t *testing.T) {
		_, err := EncodeZ85([]byte{1, 2, 3})
		assert.Error(t, err)
	})
	tests := map[string]string{
		"length not a multiple of 5": "Hello",
		"character outside":          "Hell\"World",
		"space":                      "Hello Worl",
		"underscore":                 "Hello_orld",
		"overflow":                   "%nSc1",
		"non-ASCII":                  "Hell\xc3\xa9orl",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			if name == "length not a multiple of 5" {
				text += "W"
			}
			_, err := DecodeZ85(text)
			assert.Error(t, err)
		})
	}
}

func FuzzZ85RoundTrip(f *testing.F) {
	f.Add([]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:len(data)/4*4]
		text, err := EncodeZ85(data)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeZ85(text)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, back) {
			t.Fatalf("decode(encode(%x)) = %x", data, back)
		}
	})
}
