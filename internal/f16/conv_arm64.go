//go:build arm64 && !purego

package f16

import "github.com/anekit/anekit/internal/cpu"

// encodeNEON encodes n float32s from src as halves at dst, 16 or 8 lanes at
// a time with FCVTN/FCVTN2; n must be a multiple of 8. Element by element it
// is
//
//	for i := 0; i < n; i++ { dst[i] = FromFloat32(src[i]) }
//
//go:noescape
func encodeNEON(dst *uint16, src *float32, n int)

// decodeNEON decodes n halves from src into float32s at dst, 16 or 8 lanes
// at a time with FCVTL/FCVTL2; n must be a multiple of 8. Element by
// element it is
//
//	for i := 0; i < n; i++ { dst[i] = ToFloat32(src[i]) }
//
//go:noescape
func decodeNEON(dst *float32, src *uint16, n int)

// Impl names the bulk conversion path Encode and Decode take now: "neon"
// or "go".
func Impl() string {
	if cpu.HasNEON() {
		return "neon"
	}
	return "go"
}

func encode(dst []uint16, src []float32) {
	done := 0
	if cpu.HasNEON() {
		if done = len(src) &^ 7; done > 0 {
			encodeNEON(&dst[0], &src[0], done)
		}
	}
	encodeGeneric(dst[done:], src[done:])
}

func decode(dst []float32, src []uint16) {
	done := 0
	if cpu.HasNEON() {
		if done = len(src) &^ 7; done > 0 {
			decodeNEON(&dst[0], &src[0], done)
		}
	}
	decodeGeneric(dst[done:], src[done:])
}
