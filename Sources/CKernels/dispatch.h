// What every C kernel file shares: functions compiled for AVX-512 (x86-64-v4: F, BW, CD, DQ, VL),
// AVX2+FMA (x86-64-v3) and the baseline, the variant chosen when the library loads
// (target_clones), and forced inlining. Each clone is also a global symbol of its own
// (`name.arch_x86-64-v4.0`, `name.arch_x86-64-v3.1`, `name.default.2`, in the order of the list
// below), which isa.c collects into per-instruction-set tables for the tests.
#ifndef AD_DISPATCH_H
#define AD_DISPATCH_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
// target_clones' resolvers run while the dynamic loader relocates, before ThreadSanitizer's
// runtime starts, and its instrumentation of them crashes: the sanitizer build uses the baseline.
#define AD_NO_TARGET_CLONES 1
#endif
#endif

#if defined(__x86_64__) && defined(__clang__) && !defined(AD_NO_TARGET_CLONES)
#define DISPATCHED __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DISPATCHED
#endif
#define INLINE static inline __attribute__((always_inline))

// Kernels dispatched by hand (those calling libmvec, or written for one vector width) mark their
// variants with these; the baseline needs none.
#if defined(__x86_64__) && defined(__clang__)
#define AD_HAS_VARIANTS 1
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX512 __attribute__((target("arch=x86-64-v4"), min_vector_width(512)))
#endif

#endif
