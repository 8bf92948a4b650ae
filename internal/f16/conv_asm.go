//go:build amd64 && !purego

package f16

//go:generate sh -c "cd ../../_asm && go run ./f16 -out ../internal/f16/conv_amd64.s -stubs ../internal/f16/conv_amd64.go -pkg f16"

import "github.com/anekit/anekit/internal/cpu"

// Impl names the bulk conversion path Encode and Decode take now:
// "avx512", "f16c" or "go".
func Impl() string {
	switch {
	case cpu.HasAVX512():
		return "avx512"
	case cpu.HasF16C():
		return "f16c"
	}
	return "go"
}

func encode(dst []uint16, src []float32) {
	done := 0
	switch {
	case cpu.HasAVX512():
		if done = len(src) &^ 15; done > 0 {
			encode512(&dst[0], &src[0], done)
		}
	case cpu.HasF16C():
		if done = len(src) &^ 7; done > 0 {
			encodeF16C(&dst[0], &src[0], done)
		}
	}
	encodeGeneric(dst[done:], src[done:])
}

func decode(dst []float32, src []uint16) {
	done := 0
	switch {
	case cpu.HasAVX512():
		if done = len(src) &^ 15; done > 0 {
			decode512(&dst[0], &src[0], done)
		}
	case cpu.HasF16C():
		if done = len(src) &^ 7; done > 0 {
			decodeF16C(&dst[0], &src[0], done)
		}
	}
	decodeGeneric(dst[done:], src[done:])
}
