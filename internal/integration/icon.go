package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"regexp"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// Icon rules (R-INT-7, seed 000).
const (
	IconSize     = 128
	MaxIconBytes = 80 * 1024
)

// Icon is one of a tenant's custom icons. A removed icon is no longer
// offered, but integrations that name it keep it.
type Icon struct {
	TenantID  string    `json:"-"`
	ID        string    `json:"id"`
	PNG       []byte    `json:"png"`
	Removed   bool      `json:"removed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

var iconIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// IconID is the ID of an icon's bytes: their SHA-256, in hex (the same
// file uploaded twice is one icon).
func IconID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ValidateIcon checks an icon file: a PNG of exactly 128×128 pixels, at
// most 80 KB, with a transparent background (at least one pixel not fully
// opaque). The error says what is wrong.
func ValidateIcon(b []byte) error {
	bad := func(format string, args ...any) error { return derrors.Invalidf("png", format, args...) }
	if len(b) == 0 {
		return bad("is required: a PNG file")
	}
	if len(b) > MaxIconBytes {
		return bad("is %d KB; an icon is at most 80 KB", (len(b)+1023)/1024)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return bad("is not a PNG image")
	}
	if cfg.Width != IconSize || cfg.Height != IconSize {
		return bad("is %d×%d pixels; an icon is exactly 128×128", cfg.Width, cfg.Height)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return bad("is not a whole PNG image: %v", err)
	}
	if !transparent(img) {
		return bad("has no transparent pixel: use a PNG with a transparent background")
	}
	return nil
}

// transparent reports whether some pixel of img is not fully opaque.
func transparent(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return !o.Opaque()
	}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return true
			}
		}
	}
	return false
}
