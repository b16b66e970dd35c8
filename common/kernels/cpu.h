/* cpu.h - which kernels run: AVX-512 where the CPU has it, else AVX2+FMA,
 * else the portable C ones; every form gives the same bits (see gemm.h),
 * so the choice changes speed only. */
#ifndef ROVE_COMMON_KERNELS_CPU_H
#define ROVE_COMMON_KERNELS_CPU_H

/* Kernel levels. */
#define ROVE_CPU_PORTABLE 0
#define ROVE_CPU_AVX2 1   /* AVX2 + FMA */
#define ROVE_CPU_AVX512 2 /* AVX-512F (+ AVX2 + FMA) */

/* The level the kernels run at: the best the CPU has, lowered by the
 * environment at the first call (ROVE_NO_SIMD=1: portable; ROVE_SIMD=avx2
 * or portable: at most that) or by rove_cpu_set_level. Always portable off
 * x86-64. Cheap enough to ask per call. */
int rove_cpu_level(void);

/* Its name: "portable", "avx2" or "avx512". */
const char *rove_cpu_level_name(int level);

/* 1 when the level is AVX2 or better. */
int rove_cpu_simd(void);

/* Sets the level for the whole process (capped at what the CPU has; -1:
 * the best it has); for tests and benchmarks comparing the forms. Not to
 * be called while another thread runs a kernel. */
void rove_cpu_set_level(int level);

/* rove_cpu_set_level(on ? -1 : ROVE_CPU_PORTABLE). */
void rove_cpu_set_simd(int on);

#endif
