package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// encodePNG encodes img at level.
func encodePNG(t *testing.T, img image.Image, level png.CompressionLevel) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// iconImage is a w×h opaque blue NRGBA with a transparent top-left corner.
func iconImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{B: 0xff, A: 0xff})
		}
	}
	img.SetNRGBA(0, 0, color.NRGBA{})
	return img
}

// noiseImage is a 128×128 NRGBA of random opaque pixels but one transparent.
func noiseImage(r *rand.Rand) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, IconSize, IconSize))
	for i := range img.Pix {
		img.Pix[i] = byte(r.UintN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	img.Pix[3] = 0
	return img
}

// padPNG inserts an ancillary chunk (which decoders skip) before IEND so
// that the file is exactly n bytes.
func padPNG(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	const iend = 12 // length, type, CRC
	size := n - len(b) - 12
	if size < 0 || !bytes.Equal(b[len(b)-iend+4:len(b)-4], []byte("IEND")) {
		t.Fatalf("cannot pad %d bytes to %d", len(b), n)
	}
	chunk := make([]byte, 12+size)
	binary.BigEndian.PutUint32(chunk, uint32(size))
	copy(chunk[4:], "zpAd")
	binary.BigEndian.PutUint32(chunk[8+size:], crc32.ChecksumIEEE(chunk[4:8+size]))
	out := append([]byte{}, b[:len(b)-iend]...)
	out = append(out, chunk...)
	return append(out, b[len(b)-iend:]...)
}

// R-INT-7: an icon is a PNG of exactly 128×128 pixels, at most 80 KB, with
// a transparent pixel; anything else is refused on "png" with the reason.
func TestValidateIcon(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	valid := encodePNG(t, iconImage(IconSize, IconSize), png.DefaultCompression)
	noise := encodePNG(t, noiseImage(r), png.DefaultCompression)

	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, iconImage(IconSize, IconSize), nil); err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}

	opaque := image.NewRGBA(image.Rect(0, 0, IconSize, IconSize))
	for i := range opaque.Pix {
		opaque.Pix[i] = 0xff
	}
	gray := image.NewGray(image.Rect(0, 0, IconSize, IconSize))
	for i := range gray.Pix {
		gray.Pix[i] = byte(i)
	}
	paletted := func(pal color.Palette, used uint8) image.Image {
		img := image.NewPaletted(image.Rect(0, 0, IconSize, IconSize), pal)
		img.Pix[0] = used
		return img
	}
	opaquePal := color.Palette{color.NRGBA{R: 0xff, A: 0xff}, color.NRGBA{G: 0xff, A: 0xff}}
	clearPal := color.Palette{color.NRGBA{R: 0xff, A: 0xff}, color.NRGBA{}}

	// A valid but large image: 16 bits per channel noise, stored.
	big := image.NewNRGBA64(image.Rect(0, 0, IconSize, IconSize))
	for i := range big.Pix {
		big.Pix[i] = byte(r.UintN(256))
	}
	big.SetNRGBA64(0, 0, color.NRGBA64{})
	bigPNG := encodePNG(t, big, png.NoCompression)
	if len(bigPNG) <= MaxIconBytes {
		t.Fatalf("the large PNG is %d bytes, want over %d", len(bigPNG), MaxIconBytes)
	}
	stored := encodePNG(t, noiseImage(r), png.NoCompression)
	kb81 := padPNG(t, stored, 81*1024)

	cases := []struct {
		name    string
		png     []byte
		wantMsg string // "" = valid
	}{
		{"valid", valid, ""},
		{"valid noise", noise, ""},
		{"valid stored noise", stored, ""},
		{"exactly 80 KB", padPNG(t, stored, MaxIconBytes), ""},
		{"paletted with a transparent entry used", encodePNG(t, paletted(clearPal, 1), png.DefaultCompression), ""},

		{"empty", nil, "is required"},
		{"JPEG", jpg.Bytes(), "is not a PNG"},
		{"random bytes", random, "is not a PNG"},
		{"127×128", encodePNG(t, iconImage(127, 128), png.DefaultCompression), "is 127×128 pixels"},
		{"128×129", encodePNG(t, iconImage(128, 129), png.DefaultCompression), "is 128×129 pixels"},
		{"256×256", encodePNG(t, iconImage(256, 256), png.DefaultCompression), "is 256×256 pixels"},
		{"opaque RGBA", encodePNG(t, opaque, png.DefaultCompression), "no transparent pixel"},
		{"gray", encodePNG(t, gray, png.DefaultCompression), "no transparent pixel"},
		{"paletted without a transparent entry", encodePNG(t, paletted(opaquePal, 1), png.DefaultCompression), "no transparent pixel"},
		{"paletted with a transparent entry unused", encodePNG(t, paletted(clearPal, 0), png.DefaultCompression), "no transparent pixel"},
		{"80 KB and a byte", padPNG(t, stored, MaxIconBytes+1), "at most 80 KB"},
		{"81 KB", kb81, "is 81 KB; an icon is at most 80 KB"},
		{"16-bit stored noise", bigPNG, "at most 80 KB"},
		{"first half", valid[:len(valid)/2], "is not a whole PNG image"},
		{"first half of noise", noise[:len(noise)/2], "is not a whole PNG image"},
		{"signature only", valid[:8], "is not a PNG"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateIcon(c.png)
			if c.wantMsg == "" {
				if err != nil {
					t.Errorf("got %v, want no error", err)
				}
				return
			}
			var de *derrors.Error
			if !errors.As(err, &de) || de.Kind != derrors.Invalid || de.Field != "png" {
				t.Fatalf("got %#v, want an Invalid error on png", err)
			}
			if !strings.Contains(de.Msg, c.wantMsg) {
				t.Errorf("got message %q, want it to mention %q", de.Msg, c.wantMsg)
			}
		})
	}
}

// R-INT-7: an icon's ID is the hex SHA-256 of its bytes.
func TestIconID(t *testing.T) {
	b := encodePNG(t, iconImage(IconSize, IconSize), png.DefaultCompression)
	if err := ValidateIcon(b); err != nil {
		t.Fatal(err)
	}
	got := IconID(b)
	if want := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !iconIDRE.MatchString(got) {
		t.Errorf("got %q, want 64 lowercase hex digits", got)
	}
	if got, want := IconID(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("IconID(nil): got %q, want %q", got, want)
	}
	other := append([]byte{}, b...)
	other = padPNG(t, other, len(other)+12)
	if IconID(other) == got {
		t.Errorf("two different files got the same ID %q", got)
	}
}
