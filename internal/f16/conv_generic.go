//go:build (!amd64 && !arm64) || purego

package f16

// Impl names the bulk conversion path Encode and Decode take: always "go"
// in this build.
func Impl() string { return "go" }

func encode(dst []uint16, src []float32) { encodeGeneric(dst, src) }

func decode(dst []float32, src []uint16) { decodeGeneric(dst, src) }
