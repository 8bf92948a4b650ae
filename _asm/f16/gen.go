// Command f16 generates anekit's bulk fp16<->fp32 conversions
// (internal/f16/conv_amd64.s and its Go declarations).
//
// Run it through go generate in internal/f16, or by hand from _asm:
//
//	go run ./f16 -out ../internal/f16/conv_amd64.s -stubs ../internal/f16/conv_amd64.go -pkg f16
//
// Each function converts n elements, n a multiple of the lane count (16
// for the AVX-512 forms, 8 for the F16C+AVX forms); the caller converts the
// tail. Rounding is to nearest even (immediate 0, MXCSR not consulted).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	conv("encode512", "func(dst *uint16, src *float32, n int)", 16, true)
	conv("encodeF16C", "func(dst *uint16, src *float32, n int)", 8, true)
	conv("decode512", "func(dst *float32, src *uint16, n int)", 16, false)
	conv("decodeF16C", "func(dst *float32, src *uint16, n int)", 8, false)
	Generate()
}

// conv emits a loop that converts 4*lanes elements per iteration while it
// can, then lanes at a time.
func conv(name, sig string, lanes int, encode bool) {
	TEXT(name, NOSPLIT, sig)
	what := "decodes n halves from src into float32s at dst"
	if encode {
		what = "encodes n float32s from src as halves at dst"
	}
	Doc(fmt.Sprintf("%s %s; n must be a multiple of %d.", name, what, lanes))
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	var vs []reg.VecPhysical
	if lanes == 16 {
		vs = []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3}
	} else {
		vs = []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	}
	f32, f16 := 4*lanes, 2*lanes // bytes per vector on each side
	one := func(i int) {
		if encode {
			VMOVUPS(Mem{Base: src, Disp: i * f32}, vs[i])
		} else {
			VCVTPH2PS(Mem{Base: src, Disp: i * f16}, vs[i])
		}
	}
	store := func(i int) {
		if encode {
			// The register form then a plain store: the memory form
			// of VCVTPS2PH is slow on AMD cores.
			h := halfOf(vs[i])
			VCVTPS2PH(U8(0), vs[i], h)
			VMOVDQU(h, Mem{Base: dst, Disp: i * f16})
		} else {
			VMOVUPS(vs[i], Mem{Base: dst, Disp: i * f32})
		}
	}
	inStep, outStep := f32, f16
	if !encode {
		inStep, outStep = f16, f32
	}
	Label(name + "_big")
	CMPQ(n, U32(4*lanes))
	JB(LabelRef(name + "_one"))
	for i := 0; i < 4; i++ {
		one(i)
	}
	for i := 0; i < 4; i++ {
		store(i)
	}
	ADDQ(U32(4*inStep), src)
	ADDQ(U32(4*outStep), dst)
	SUBQ(U32(4*lanes), n)
	JMP(LabelRef(name + "_big"))
	Label(name + "_one")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	one(0)
	store(0)
	ADDQ(U32(inStep), src)
	ADDQ(U32(outStep), dst)
	SUBQ(U32(lanes), n)
	JMP(LabelRef(name + "_one"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// halfOf returns the register holding the halves of v: the ymm under a
// zmm, the xmm under a ymm.
func halfOf(v reg.VecPhysical) reg.VecPhysical {
	if v.Size() == 64 {
		return v.AsY().(reg.VecPhysical)
	}
	return v.AsX().(reg.VecPhysical)
}
