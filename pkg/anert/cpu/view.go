package cpu

// A view is a strided window on one buffer of the plan: element with index
// (i0, i1, ...) lives at off + Σ ik*st[k] of buffer buf. reshape, transpose
// and slice_by_size produce views of their input without copying.
type view struct {
	buf   int // index into plan.bufs
	off   int
	shape []int
	st    []int
}

func elems(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func denseView(buf int, shape []int) view {
	return view{buf: buf, shape: append([]int(nil), shape...), st: contiguousStrides(shape)}
}

// sameView reports whether a and b address exactly the same elements in
// the same order.
func sameView(a, b view) bool {
	if a.buf != b.buf || a.off != b.off || len(a.shape) != len(b.shape) {
		return false
	}
	for i := range a.shape {
		if a.shape[i] != b.shape[i] || (a.shape[i] > 1 && a.st[i] != b.st[i]) {
			return false
		}
	}
	return true
}

// reshape returns v reinterpreted in row-major order as shape ns without
// copying, or false when the strides do not allow it (then the caller
// materialises a copy). The element counts must be equal.
func (v view) reshape(ns []int) (view, bool) {
	var od, os []int
	for i, d := range v.shape {
		if d != 1 {
			od = append(od, d)
			os = append(os, v.st[i])
		}
	}
	nst := make([]int, len(ns))
	oi, ni := 0, 0
	for ni < len(ns) && oi < len(od) {
		if ns[ni] == 1 {
			ni++
			continue
		}
		np, op := ns[ni], od[oi]
		nj, oj := ni+1, oi+1
		for np != op {
			if np < op {
				np *= ns[nj]
				nj++
			} else {
				op *= od[oj]
				oj++
			}
		}
		for k := oi; k < oj-1; k++ {
			if os[k] != os[k+1]*od[k+1] {
				return v, false
			}
		}
		nst[nj-1] = os[oj-1]
		for k := nj - 1; k > ni; k-- {
			nst[k-1] = nst[k] * ns[k]
		}
		ni, oi = nj, oj
	}
	return view{buf: v.buf, off: v.off, shape: append([]int(nil), ns...), st: nst}, true
}

// transpose returns the view whose axis i is v's axis perm[i].
func (v view) transpose(perm []int) view {
	w := view{buf: v.buf, off: v.off, shape: make([]int, len(perm)), st: make([]int, len(perm))}
	for i, p := range perm {
		w.shape[i] = v.shape[p]
		w.st[i] = v.st[p]
	}
	return w
}

// untranspose is the inverse of transpose: the view u with u.transpose(perm) == v.
func (v view) untranspose(perm []int) view {
	w := view{buf: v.buf, off: v.off, shape: make([]int, len(perm)), st: make([]int, len(perm))}
	for i, p := range perm {
		w.shape[p] = v.shape[i]
		w.st[p] = v.st[i]
	}
	return w
}

// slice returns the box starting at begin with the given size.
func (v view) slice(begin, size []int) view {
	w := view{buf: v.buf, off: v.off, shape: append([]int(nil), size...), st: append([]int(nil), v.st...)}
	for i, b := range begin {
		w.off += b * v.st[i]
	}
	return w
}

// broadcastTo returns v seen with shape out (numpy rules, right-aligned):
// missing leading axes and axes of size 1 get stride 0.
func (v view) broadcastTo(out []int) view {
	w := view{buf: v.buf, off: v.off, shape: append([]int(nil), out...), st: make([]int, len(out))}
	d := len(out) - len(v.shape)
	for i := range v.shape {
		if v.shape[i] != 1 {
			w.st[d+i] = v.st[i]
		}
	}
	return w
}

// coalesce drops axes of size 1 and merges neighbouring axes that every one
// of the stride lists walks contiguously. All stride lists share shape. The
// result has at least one axis.
func coalesce(shape []int, sts ...[]int) ([]int, [][]int) {
	var ns []int
	nst := make([][]int, len(sts))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if last := len(ns) - 1; last >= 0 {
			ok := true
			for k, st := range sts {
				if nst[k][last] != st[i]*d {
					ok = false
					break
				}
			}
			if ok {
				ns[last] *= d
				for k, st := range sts {
					nst[k][last] = st[i]
				}
				continue
			}
		}
		ns = append(ns, d)
		for k, st := range sts {
			nst[k] = append(nst[k], st[i])
		}
	}
	if len(ns) == 0 {
		ns = []int{1}
		for k := range nst {
			nst[k] = []int{0}
		}
	}
	return ns, nst
}
