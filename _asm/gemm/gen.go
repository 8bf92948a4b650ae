// Command gemm generates anekit's fp32 GEMM micro-kernels
// (internal/gemm/kernel_amd64.s and its Go declarations).
//
// Run it through go generate in internal/gemm, or by hand from _asm:
//
//	go run ./gemm -out ../internal/gemm/kernel_amd64.s -stubs ../internal/gemm/kernel_amd64.go -pkg gemm
//
// Every kernel has the signature
//
//	func(k int, a, b, c *float32, ldc int, alpha, beta float32)
//
// and computes the mr×nr block C = alpha*A*B + beta*C (C not read when beta
// is ±0), where A is a packed panel of k steps of MR floats (only the first
// mr of each step are read), B a packed panel of k steps of NR floats, and C
// row-major with leading dimension ldc (in elements). One function is
// generated per mr in 1..MR so that edge rows cost what they compute.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

const sig = "func(k int, a, b, c *float32, ldc int, alpha, beta float32)"

// sigU is the signature of the kernels that read A in place, row-major with
// leading dimension lda (elements), instead of from a packed panel.
const sigU = "func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)"

// AVX-512 tile: MR rows × 32 columns (two zmm), 2*MR accumulators.
const mr512 = 14

// sigF is the signature of the kernels that read A in place and B from
// its row-major source (leading dimension ldb), writing the packed panel
// to b as they go.
const sigF = "func(k int, a *float32, lda int, b, bsrc *float32, ldb int, c *float32, ldc int, alpha, beta float32)"

// The AVX-512 kernels' sources of A and B.
const (
	packedA      = iota // A and B packed
	inPlaceA            // A read in place, B packed
	fusedB              // A read in place, B read from its source and packed on the way
	packedFusedB        // A packed, B read from its source and packed on the way
)

// sigPF is the signature of the kernels that read A from a packed panel
// and B from its row-major source, packing it to b as they go.
const sigPF = "func(k int, a, b, bsrc *float32, ldb int, c *float32, ldc int, alpha, beta float32)"

// pfRows is how many rows of B's source a fused kernel prefetches ahead.
const pfRows = 32

// AVX2 tile: MR rows × 16 columns (two ymm), 2*MR accumulators.
const mr256 = 6

func main() {
	ConstraintExpr("!purego")
	for _, mode := range []int{packedA, inPlaceA, fusedB, packedFusedB} {
		for mr := 1; mr <= mr512; mr++ {
			kernel512(mr, mode)
		}
	}
	for mr := 1; mr <= mr256; mr++ {
		kernel256(mr)
	}
	packB512("packB32pf", 4)
	packBT512()
	packAT512()
	Generate()
}

// kernel512 emits kern512x<mr>: AVX-512, B from two zmm loads per k step,
// each A element broadcast into a register (VBROADCASTSS) for two FMAs.
// With mode inPlaceA it emits kern512ux<mr>, which reads A's rows in place
// (five row pointers, the rows between them addressed as pointer + lda or
// + 2*lda); with fusedB, kern512fx<mr>, which also loads B from its source
// rows (prefetching pfRows rows ahead) and stores the packed panel to b;
// with packedFusedB, kern512pfx<mr>: packed A, B as in fusedB.
func kernel512(mr int, mode int) {
	unpacked := mode == inPlaceA || mode == fusedB
	fused := mode == fusedB || mode == packedFusedB
	var name string
	switch mode {
	case packedA:
		name = fmt.Sprintf("kern512x%d", mr)
		TEXT(name, NOSPLIT, sig)
		Doc(fmt.Sprintf("%s is the AVX-512 %dx32 micro-kernel (A panel stride %d).", name, mr, mr512))
	case inPlaceA:
		name = fmt.Sprintf("kern512ux%d", mr)
		TEXT(name, NOSPLIT, sigU)
		Doc(fmt.Sprintf("%s is the AVX-512 %dx32 micro-kernel reading row-major A in place.", name, mr))
	case fusedB:
		name = fmt.Sprintf("kern512fx%d", mr)
		TEXT(name, NOSPLIT, sigF)
		Doc(fmt.Sprintf("%s is the AVX-512 %dx32 micro-kernel reading row-major A in place and B from its source, packing B to b.", name, mr))
	case packedFusedB:
		name = fmt.Sprintf("kern512pfx%d", mr)
		TEXT(name, NOSPLIT, sigPF)
		Doc(fmt.Sprintf("%s is the AVX-512 %dx32 micro-kernel reading A from a packed panel (stride %d) and B from its source, packing B to b.", name, mr, mr512))
	}
	zs := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
	b0, b1 := zs[30], zs[31]
	bc := []reg.VecPhysical{zs[28], zs[29]}
	acc := func(r, h int) reg.VecPhysical { return zs[2*r+h] }

	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	aAt := func(r int) Mem { return Mem{Base: a, Disp: 4 * r} }
	var bases []reg.Register
	if unpacked {
		lda := Load(Param("lda"), GP64())
		SHLQ(U8(2), lda)
		bases = append(bases, a)
		for r := 3; r < mr; r += 3 {
			nb := GP64()
			LEAQ(Mem{Base: bases[len(bases)-1], Index: lda, Scale: 2}, nb)
			ADDQ(lda, nb)
			bases = append(bases, nb)
		}
		aAt = func(r int) Mem {
			m := Mem{Base: bases[r/3]}
			if r%3 != 0 {
				m.Index, m.Scale = lda, uint8(r%3)
			}
			return m
		}
	}
	var bsrc, ldb, pfp reg.Register
	if fused {
		bsrc = Load(Param("bsrc"), GP64())
		ldb = Load(Param("ldb"), GP64())
		SHLQ(U8(2), ldb)
		pfp = GP64()
		IMUL3Q(U32(pfRows), ldb, pfp)
		ADDQ(bsrc, pfp)
	}

	// Warm the C rows while the products run.
	{
		p := Load(Param("c"), GP64())
		ldc := Load(Param("ldc"), GP64())
		SHLQ(U8(2), ldc)
		for r := 0; r < mr; r++ {
			PREFETCHT0(Mem{Base: p})
			PREFETCHT0(Mem{Base: p, Disp: 64})
			if r+1 < mr {
				ADDQ(ldc, p)
			}
		}
	}
	for r := 0; r < mr; r++ {
		VPXORD(acc(r, 0), acc(r, 0), acc(r, 0))
		VPXORD(acc(r, 1), acc(r, 1), acc(r, 1))
	}
	// One k step: B's 32 floats in two registers, each A element
	// broadcast once into a register and used by two FMAs (measured ~12%
	// faster on Zen 5 than two FMAs each broadcasting from memory).
	step := func(s int) {
		if fused {
			VMOVUPS(Mem{Base: bsrc}, b0)
			VMOVUPS(Mem{Base: bsrc, Disp: 64}, b1)
			PREFETCHT0(Mem{Base: pfp})
			PREFETCHT0(Mem{Base: pfp, Disp: 64})
			VMOVUPS(b0, Mem{Base: b, Disp: 128 * s})
			VMOVUPS(b1, Mem{Base: b, Disp: 128*s + 64})
			ADDQ(ldb, bsrc)
			ADDQ(ldb, pfp)
		} else {
			VMOVUPS(Mem{Base: b, Disp: 128 * s}, b0)
			VMOVUPS(Mem{Base: b, Disp: 128*s + 64}, b1)
		}
		for r := 0; r < mr; r++ {
			t := bc[r%2]
			m := aAt(r)
			if unpacked {
				m.Disp += 4 * s
			} else {
				m.Disp += 4 * mr512 * s
			}
			VBROADCASTSS(m, t)
			VFMADD231PS(b0, t, acc(r, 0))
			VFMADD231PS(b1, t, acc(r, 1))
		}
	}
	advance := func(steps int) {
		if unpacked {
			for _, p := range bases {
				ADDQ(U8(4*steps), p)
			}
		} else {
			ADDQ(U32(4*mr512*steps), a)
		}
		ADDQ(U32(128*steps), b)
	}
	// Two steps per iteration, then one more when k is odd.
	n2 := Load(Param("k"), GP64())
	SHRQ(U8(1), n2)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop")
	step(0)
	step(1)
	advance(2)
	DECQ(n2)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_tail")
	k := Load(Param("k"), GP64())
	TESTQ(U32(1), k)
	JZ(LabelRef(name + "_done"))
	step(0)
	Label(name + "_done")

	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	// Scale by alpha.
	off := map[int]int{packedA: 40, inPlaceA: 48, fusedB: 64, packedFusedB: 56}[mode]
	VBROADCASTSS(NewParamAddr("alpha", off), b0)
	for r := 0; r < mr; r++ {
		VMULPS(b0, acc(r, 0), acc(r, 0))
		VMULPS(b0, acc(r, 1), acc(r, 1))
	}
	bt := GP32()
	MOVL(NewParamAddr("beta", off+4), bt)
	ANDL(U32(0x7fffffff), bt)
	JZ(LabelRef(name + "_beta0"))
	VBROADCASTSS(NewParamAddr("beta", off+4), b1)
	for r := 0; r < mr; r++ {
		VFMADD231PS(Mem{Base: c}, b1, acc(r, 0))
		VFMADD231PS(Mem{Base: c, Disp: 64}, b1, acc(r, 1))
		VMOVUPS(acc(r, 0), Mem{Base: c})
		VMOVUPS(acc(r, 1), Mem{Base: c, Disp: 64})
		if r+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label(name + "_beta0")
	for r := 0; r < mr; r++ {
		VMOVUPS(acc(r, 0), Mem{Base: c})
		VMOVUPS(acc(r, 1), Mem{Base: c, Disp: 64})
		if r+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// kernel256 emits kern256x<mr>: AVX2 + FMA, B from two ymm loads per k
// step, A broadcast with VBROADCASTSS into one of two rotating registers.
func kernel256(mr int) {
	TEXT(fmt.Sprintf("kern256x%d", mr), NOSPLIT, sig)
	Doc(fmt.Sprintf("kern256x%d is the AVX2+FMA %dx16 micro-kernel (A panel stride %d).", mr, mr, mr256))
	ys := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
	b0, b1 := ys[12], ys[13]
	bc := []reg.VecPhysical{ys[14], ys[15]}
	acc := func(r, h int) reg.VecPhysical { return ys[2*r+h] }

	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

	p := GP64()
	MOVQ(c, p)
	for r := 0; r < mr; r++ {
		PREFETCHT0(Mem{Base: p})
		if r+1 < mr {
			ADDQ(ldc, p)
		}
	}
	for r := 0; r < mr; r++ {
		VXORPS(acc(r, 0), acc(r, 0), acc(r, 0))
		VXORPS(acc(r, 1), acc(r, 1), acc(r, 1))
	}
	TESTQ(k, k)
	JZ(LabelRef(fmt.Sprintf("k256x%d_done", mr)))
	Label(fmt.Sprintf("k256x%d_loop", mr))
	VMOVUPS(Mem{Base: b}, b0)
	VMOVUPS(Mem{Base: b, Disp: 32}, b1)
	for r := 0; r < mr; r++ {
		t := bc[r%2]
		VBROADCASTSS(Mem{Base: a, Disp: 4 * r}, t)
		VFMADD231PS(b0, t, acc(r, 0))
		VFMADD231PS(b1, t, acc(r, 1))
	}
	ADDQ(U32(4*mr256), a)
	ADDQ(U32(64), b)
	DECQ(k)
	JNZ(LabelRef(fmt.Sprintf("k256x%d_loop", mr)))
	Label(fmt.Sprintf("k256x%d_done", mr))

	VBROADCASTSS(NewParamAddr("alpha", 40), b0)
	for r := 0; r < mr; r++ {
		VMULPS(b0, acc(r, 0), acc(r, 0))
		VMULPS(b0, acc(r, 1), acc(r, 1))
	}
	bt := GP32()
	MOVL(NewParamAddr("beta", 44), bt)
	ANDL(U32(0x7fffffff), bt)
	JZ(LabelRef(fmt.Sprintf("k256x%d_beta0", mr)))
	VBROADCASTSS(NewParamAddr("beta", 44), b1)
	for r := 0; r < mr; r++ {
		VFMADD231PS(Mem{Base: c}, b1, acc(r, 0))
		VFMADD231PS(Mem{Base: c, Disp: 32}, b1, acc(r, 1))
		VMOVUPS(acc(r, 0), Mem{Base: c})
		VMOVUPS(acc(r, 1), Mem{Base: c, Disp: 32})
		if r+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label(fmt.Sprintf("k256x%d_beta0", mr))
	for r := 0; r < mr; r++ {
		VMOVUPS(acc(r, 0), Mem{Base: c})
		VMOVUPS(acc(r, 1), Mem{Base: c, Disp: 32})
		if r+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// packB512 emits name: it copies nq whole panels of 32 columns of kc rows
// of row-major B (leading dimension ldb elements) into packed panels of
// kc×32, panel q at dst + q*kc*32, reading B row by row. With pf > 0 it
// prefetches the row pf steps ahead.
func packB512(name string, pf int) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, ldb, kc, nq int)")
	Doc(fmt.Sprintf("%s packs nq panels of 32 columns of kc rows of row-major B (leading dimension ldb) into kc×32 panels at dst, panel q at dst[q*kc*32:].", name))
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	ldb := Load(Param("ldb"), GP64())
	kc := Load(Param("kc"), GP64())
	nq := Load(Param("nq"), GP64())
	SHLQ(U8(2), ldb)
	pstride := GP64()
	MOVQ(kc, pstride)
	SHLQ(U8(7), pstride) // kc*32*4 bytes between panels
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_ret"))
	TESTQ(nq, nq)
	JZ(LabelRef(name + "_ret"))
	Label(name + "_row")
	s, d, q := GP64(), GP64(), GP64()
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(nq, q)
	var ahead reg.GPVirtual
	if pf > 0 {
		ahead = GP64()
		LEAQ(Mem{Base: src, Index: ldb, Scale: 4}, ahead) // pf == 4
	}
	Label(name + "_col")
	if pf > 0 {
		PREFETCHT0(Mem{Base: ahead})
		PREFETCHT0(Mem{Base: ahead, Disp: 64})
		ADDQ(U32(128), ahead)
	}
	VMOVUPS(Mem{Base: s}, reg.Z0)
	VMOVUPS(Mem{Base: s, Disp: 64}, reg.Z1)
	VMOVUPS(reg.Z0, Mem{Base: d})
	VMOVUPS(reg.Z1, Mem{Base: d, Disp: 64})
	ADDQ(U32(128), s)
	ADDQ(pstride, d)
	DECQ(q)
	JNZ(LabelRef(name + "_col"))
	ADDQ(ldb, src)
	ADDQ(U32(128), dst)
	DECQ(kc)
	JNZ(LabelRef(name + "_row"))
	Label(name + "_ret")
	VZEROUPPER()
	RET()
}

// packBT512 emits packBT32: it packs one panel of 32 columns of B stored
// transposed (column x of B is row x of bt, leading dimension ld elements,
// steps contiguous) for kc16 steps, a multiple of 16, into a kc×32 panel at
// dst (step p at dst[p*32:]). Each 16×16 block is transposed in registers:
// unpack pairs of rows (ps, then pd) within 128-bit lanes, then two rounds
// of VSHUFF32X4 across lanes.
func packBT512() {
	TEXT("packBT32", NOSPLIT, "func(dst, bt *float32, ld, kc16 int)")
	Doc("packBT32 packs 32 columns × kc16 steps (a multiple of 16) of transposed B (column x at bt[x*ld:]) into a kc16×32 panel at dst.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("bt"), GP64())
	ld := Load(Param("ld"), GP64())
	n := Load(Param("kc16"), GP64())
	SHLQ(U8(2), ld)
	SHRQ(U8(4), n)
	JZ(LabelRef("packBT32_ret"))
	l3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, l3)
	// Eight row pointers: rows 4g..4g+3 at bases[g] + 0, ld, 2*ld, 3*ld.
	bases := []reg.Register{src}
	for g := 1; g < 8; g++ {
		r := GP64()
		LEAQ(Mem{Base: bases[g-1], Index: ld, Scale: 4}, r)
		bases = append(bases, r)
	}
	z := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
	rowAt := func(i int, h int) Mem {
		m := Mem{Base: bases[4*h+i/4]}
		switch i % 4 {
		case 1:
			m.Index, m.Scale = ld, 1
		case 2:
			m.Index, m.Scale = ld, 2
		case 3:
			m.Index, m.Scale = l3, 1
		}
		return m
	}
	Label("packBT32_loop")
	for h := 0; h < 2; h++ {
		r, a := z[0:16], z[16:32]
		for i := 0; i < 16; i++ {
			VMOVUPS(rowAt(i, h), r[i])
		}
		// a[2i], a[2i+1]: rows 2i, 2i+1 interleaved (low, high pairs).
		for i := 0; i < 8; i++ {
			VUNPCKLPS(r[2*i+1], r[2*i], a[2*i])
			VUNPCKHPS(r[2*i+1], r[2*i], a[2*i+1])
		}
		// b[4i+c] lane L: rows 4i..4i+3 of column 4L+c.
		b := r
		for i := 0; i < 4; i++ {
			VUNPCKLPD(a[4*i+2], a[4*i], b[4*i])
			VUNPCKHPD(a[4*i+2], a[4*i], b[4*i+1])
			VUNPCKLPD(a[4*i+3], a[4*i+1], b[4*i+2])
			VUNPCKHPD(a[4*i+3], a[4*i+1], b[4*i+3])
		}
		// out[4L+c] = lanes L of b[c], b[4+c], b[8+c], b[12+c].
		u, o := a[0:4], a[4:8]
		for c := 0; c < 4; c++ {
			VSHUFF32X4(U8(0x44), b[4+c], b[c], u[0])
			VSHUFF32X4(U8(0xEE), b[4+c], b[c], u[1])
			VSHUFF32X4(U8(0x44), b[12+c], b[8+c], u[2])
			VSHUFF32X4(U8(0xEE), b[12+c], b[8+c], u[3])
			VSHUFF32X4(U8(0x88), u[2], u[0], o[0])
			VSHUFF32X4(U8(0xDD), u[2], u[0], o[1])
			VSHUFF32X4(U8(0x88), u[3], u[1], o[2])
			VSHUFF32X4(U8(0xDD), u[3], u[1], o[3])
			for L := 0; L < 4; L++ {
				VMOVUPS(o[L], Mem{Base: dst, Disp: (4*L+c)*128 + 64*h})
			}
		}
	}
	for _, p := range bases {
		ADDQ(U8(64), p)
	}
	ADDQ(U32(16*128), dst)
	DECQ(n)
	JNZ(LabelRef("packBT32_loop"))
	Label("packBT32_ret")
	VZEROUPPER()
	RET()
}

// packAT512 emits packAT14: it packs kc steps of mr <= 14 rows of A stored
// transposed (step p at at[p*ld:], rows contiguous) into a kc×14 panel at
// dst, rows mr..13 zeroed: one masked load and one masked store per step.
func packAT512() {
	TEXT("packAT14", NOSPLIT, "func(dst, at *float32, ld, kc, mr int)")
	Doc("packAT14 packs kc steps of mr <= 14 rows of transposed A (step p at at[p*ld:]) into a kc×14 panel at dst, zeroing rows mr..13.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("at"), GP64())
	ld := Load(Param("ld"), GP64())
	n := Load(Param("kc"), GP64())
	mr := Load(Param("mr"), GP64())
	SHLQ(U8(2), ld)
	// K1: the mr rows to load; K2: the 14 lanes of a step to store.
	ones, m := GP64(), GP64()
	MOVQ(I32(-1), ones)
	BZHIQ(mr, ones, m) // the low mr bits
	KMOVW(m.As32(), reg.K1)
	MOVL(U32(0x3fff), m.As32())
	KMOVW(m.As32(), reg.K2)
	TESTQ(n, n)
	JZ(LabelRef("packAT14_ret"))
	Label("packAT14_loop")
	VMOVUPS_Z(Mem{Base: src}, reg.K1, reg.Z0)
	VMOVUPS(reg.Z0, reg.K2, Mem{Base: dst})
	ADDQ(ld, src)
	ADDQ(U8(56), dst)
	DECQ(n)
	JNZ(LabelRef("packAT14_loop"))
	Label("packAT14_ret")
	VZEROUPPER()
	RET()
}
