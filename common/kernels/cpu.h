/* cpu.h - which kernels run: the AVX2+FMA ones where the CPU has them,
 * else the portable C ones, which give the same bits (see gemm.h). */
#ifndef ROVE_COMMON_KERNELS_CPU_H
#define ROVE_COMMON_KERNELS_CPU_H

/* 1 when the x86 AVX2+FMA kernels are to run: the CPU has both and they
 * were not turned off (ROVE_NO_SIMD=1 in the environment at the first
 * call, or rove_cpu_set_simd(0)). Always 0 off x86-64. Cheap enough to
 * ask per call. */
int rove_cpu_simd(void);

/* Turns the SIMD kernels on (if the CPU has them) or off for the whole
 * process; for tests and benchmarks comparing the two. Not to be called
 * while another thread runs a kernel. */
void rove_cpu_set_simd(int on);

#endif
