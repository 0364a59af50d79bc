package log

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDecompressRoundTrip(t *testing.T) {
	raw := bytes.Repeat([]byte("octopus records "), 5000)
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		c, err := kgo.DefaultCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, typ := c.Compress(&buf, raw)
		got, err := decompress(out, int16(typ))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("codec %d: %v (%d bytes)", typ, err, len(got))
		}
	}
}

func TestDecompressBombRefused(t *testing.T) {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for i := 0; i < maxDecompressed>>20+1; i++ {
		w.Write(zero)
	}
	w.Close()
	if _, err := decompress(buf.Bytes(), 1); !errors.Is(err, errTooLarge) {
		t.Fatalf("a %d-byte gzip bomb: err = %v", buf.Len(), err)
	}
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0}, int16(1))
	f.Add(append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0), int16(2))
	f.Add([]byte{4, 0x22, 0x4d, 0x18}, int16(3))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd}, int16(4))
	f.Fuzz(func(t *testing.T, b []byte, codec int16) {
		out, err := decompress(b, codec&7)
		if err == nil && len(out) > maxDecompressed {
			t.Fatalf("%d bytes out", len(out))
		}
	})
}
