/*
 * gemm_ref: the reference side of bench/gemm.sh.
 *
 *   gemm_ref gemm M N K REPS      time cblas_sgemm (row-major, no transpose,
 *                                 alpha 1, beta 0); threads from
 *                                 OPENBLAS_NUM_THREADS. Prints the median
 *                                 GFLOPS.
 *   gemm_ref core                 print the kernel set OpenBLAS chose for
 *                                 this CPU (openblas_get_corename).
 *   gemm_ref convert N REPS       time a plain F16C loop (_mm256_cvtps_ph /
 *                                 _mm256_cvtph_ps, 8 lanes) over N elements.
 *                                 Prints median GB/s of fp32->fp16 and
 *                                 fp16->fp32, counting bytes read + written.
 *
 * Same data, shapes and definitions as `ane-bench gemm|convert`.
 */
#include <cblas.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* GEMM_REF_CLOCK=cpu times process CPU time instead of wall time: a
 * steadier measure of one thread's work on a busy machine. */
static double now(void) {
	static int clk = -1;
	if (clk < 0) {
		const char *e = getenv("GEMM_REF_CLOCK");
		clk = e && strcmp(e, "cpu") == 0 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
	}
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n) {
	qsort(v, n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Each rep runs the operation enough times to last >= 20 ms. */
static double timeit(void (*f)(void *), void *arg) {
	int iters = 1;
	for (;;) {
		double t0 = now();
		for (int i = 0; i < iters; i++) f(arg);
		double dt = now() - t0;
		if (dt >= 0.02) return dt / iters;
		iters *= 2;
	}
}

struct gemm { int m, n, k; float *a, *b, *c; };

static void run_gemm(void *p) {
	struct gemm *g = p;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k,
		1.0f, g->a, g->k, g->b, g->n, 0.0f, g->c, g->n);
}

struct conv { long n; float *f; uint16_t *h; };

static void run_encode(void *p) {
	struct conv *c = p;
	long i = 0;
	for (; i + 8 <= c->n; i += 8)
		_mm_storeu_si128((__m128i *)(c->h + i),
			_mm256_cvtps_ph(_mm256_loadu_ps(c->f + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < c->n; i++)
		c->h[i] = _cvtss_sh(c->f[i], _MM_FROUND_TO_NEAREST_INT);
}

static void run_decode(void *p) {
	struct conv *c = p;
	long i = 0;
	for (; i + 8 <= c->n; i += 8)
		_mm256_storeu_ps(c->f + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c->h + i))));
	for (; i < c->n; i++)
		c->f[i] = _cvtsh_ss(c->h[i]);
}

int main(int argc, char **argv) {
	if (argc == 6 && strcmp(argv[1], "gemm") == 0) {
		struct gemm g = {atoi(argv[2]), atoi(argv[3]), atoi(argv[4])};
		int reps = atoi(argv[5]);
		g.a = malloc(sizeof(float) * g.m * g.k);
		g.b = malloc(sizeof(float) * g.k * g.n);
		g.c = calloc((size_t)g.m * g.n, sizeof(float));
		for (long i = 0; i < (long)g.m * g.k; i++) g.a[i] = (i % 7) * 0.1f;
		for (long i = 0; i < (long)g.k * g.n; i++) g.b[i] = (i % 5) * 0.1f;
		run_gemm(&g);
		/* The reference must be right before it is fast: check a sample of
		 * C against a double-precision dot product (forced kernel sets can
		 * compute wrong results on CPUs they were not written for). */
		for (long t = 0; t < 64; t++) {
			int i = (int)((t * 7919) % g.m), j = (int)((t * 104729) % g.n);
			double want = 0;
			for (int p = 0; p < g.k; p++) want += (double)g.a[(long)i * g.k + p] * g.b[(long)p * g.n + j];
			double got = g.c[(long)i * g.n + j], tol = 1e-4 * (want < 0 ? -want : want) + 1e-3;
			if (got - want > tol || want - got > tol) {
				fprintf(stderr, "gemm_ref: OpenBLAS (%s) computed C[%d][%d] = %g, want %g\n",
					openblas_get_corename(), i, j, got, want);
				return 1;
			}
		}
		double *gf = malloc(sizeof(double) * reps);
		for (int r = 0; r < reps; r++)
			gf[r] = 2.0 * g.m * g.n * g.k / timeit(run_gemm, &g) / 1e9;
		printf("%.3f\n", median(gf, reps));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "core") == 0) {
		printf("%s\n", openblas_get_corename());
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "convert") == 0) {
		struct conv c = {atol(argv[2])};
		int reps = atoi(argv[3]);
		c.f = malloc(sizeof(float) * c.n);
		c.h = calloc(c.n, sizeof(uint16_t));
		for (long i = 0; i < c.n; i++) c.f[i] = (float)(i % 1000) * 0.01f - 5;
		double *enc = malloc(sizeof(double) * reps), *dec = malloc(sizeof(double) * reps);
		for (int r = 0; r < reps; r++) {
			enc[r] = 6.0 * c.n / timeit(run_encode, &c) / 1e9;
			dec[r] = 6.0 * c.n / timeit(run_decode, &c) / 1e9;
		}
		printf("%.3f %.3f\n", median(enc, reps), median(dec, reps));
		return 0;
	}
	fprintf(stderr, "usage: gemm_ref gemm M N K REPS | gemm_ref convert N REPS\n");
	return 2;
}
