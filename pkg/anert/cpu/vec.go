package cpu

// Row loops over float32 slices: AVX-512 where expAsm allows (see
// vec_amd64.s), Go elsewhere and for the tails. Each gives the same
// results as its plain Go loop (no FMA contraction, IEEE single precision).

// softmaxMax returns the largest element of x, -Inf for an empty or
// all -Inf row. When x holds a NaN the result is NaN or an ordinary
// element: either way the softmax of the row is all NaN.
func softmaxMax(x []float32) float32 {
	m := float32(negInf)
	done := 0
	if expAsm() && len(x) >= 16 {
		done = len(x) &^ 15
		m = max512(&x[0], done)
	}
	for _, v := range x[done:] {
		m = max(m, v)
	}
	return m
}

// scaleRow multiplies x by s in place.
func scaleRow(x []float32, s float32) {
	done := 0
	if expAsm() && len(x) >= 16 {
		done = len(x) &^ 15
		scale512(&x[0], done, s)
	}
	x = x[done:]
	for i := range x {
		x[i] *= s
	}
}

// binaryRow sets d[i] = a[i] op b[i] for opAdd, opSub, opMul, opDiv;
// len(a), len(b) >= len(d). d may be a or b.
func binaryRow(op opcode, d, a, b []float32) {
	done := 0
	if expAsm() && len(d) >= 16 {
		done = len(d) &^ 15
		_, _ = a[done-1], b[done-1]
		binary512(int(op-opAdd), &d[0], &a[0], &b[0], done)
	}
	d, a, b = d[done:], a[done:len(d)], b[done:len(d)]
	switch op {
	case opAdd:
		for i := range d {
			d[i] = a[i] + b[i]
		}
	case opSub:
		for i := range d {
			d[i] = a[i] - b[i]
		}
	case opMul:
		for i := range d {
			d[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range d {
			d[i] = a[i] / b[i]
		}
	}
}
