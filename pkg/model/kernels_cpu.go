package model

import "math"

// HeadNormBackward is the CPU-side backward of the per-head RMSNorm that
// attn_fwd applies to q and k when qk_norm is set (Qwen3). x is the
// projection before the norm (the kernel's tap "q" or "k"), channel-first
// [n·hd][S]; dy the gradient of the normalised values (attn_bwd's
// "dq_norm" or "dk_norm"); w the norm weight [hd]. For every token t and
// head j, with r = 1/√(mean over the head of x² + eps):
//
//	dx[i] = w_i·r·dy_i − x_i·r³·(Σ_k dy_k·w_k·x_k)/hd     (written)
//	dw_i += dy_i·x_i·r                                   (accumulated)
//
// S = len(x)/(len(w)·heads) is implied by the lengths: len(dx) = len(dy)
// = len(x) = heads·hd·S. work is scratch of at least 2·S values.
func HeadNormBackward(dx, dw, dy, x, w []float32, heads int, eps float32, work []float32) {
	hd := len(w)
	S := len(x) / (heads * hd)
	checkLen("dx", dx, len(x))
	checkLen("dy", dy, len(x))
	r, dot := work[:S], work[S:2*S]
	for j := 0; j < heads; j++ {
		base := j * hd * S
		clear(r)
		clear(dot)
		for i := 0; i < hd; i++ {
			xi, dyi, wi := x[base+i*S:base+(i+1)*S], dy[base+i*S:base+(i+1)*S], w[i]
			for t := range r {
				r[t] += xi[t] * xi[t]
				dot[t] += dyi[t] * wi * xi[t]
			}
		}
		for t, ss := range r {
			rr := float32(1 / math.Sqrt(float64(ss/float32(hd)+eps)))
			r[t] = rr
			dot[t] *= rr * rr * rr / float32(hd)
		}
		for i := 0; i < hd; i++ {
			xi, dyi, dxi, wi := x[base+i*S:base+(i+1)*S], dy[base+i*S:base+(i+1)*S], dx[base+i*S:base+(i+1)*S], w[i]
			var g float32
			for t, rr := range r {
				dxi[t] = wi*rr*dyi[t] - xi[t]*dot[t]
				g += dyi[t] * xi[t] * rr
			}
			dw[i] += g
		}
	}
}
