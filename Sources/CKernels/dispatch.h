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

// Calls a libmvec function of one vector argument with the vector ABI it has (the argument and
// the result in ymm0 or zmm0). A C declaration would not do: clang classifies a __m256 or __m512
// argument by the translation unit's instruction set, not by the calling function's target
// attribute, so it would pass the vector in memory, where libmvec does not look. The stack is
// realigned below the red zone for the call (rbx keeps the old pointer), and everything the
// SysV ABI lets a callee change is clobbered.
#define VECTOR_CALL(fn, v, REG)                                                                        \
    ({                                                                                                 \
        register __typeof__(v) r_ __asm__(REG) = (v);                                                  \
        __asm__ volatile("mov %%rsp, %%rbx\n\t"                                                         \
                         "sub $128, %%rsp\n\t"                                                          \
                         "and $-64, %%rsp\n\t"                                                          \
                         "call " #fn "@PLT\n\t"                                                         \
                         "mov %%rbx, %%rsp"                                                            \
                         : "+v"(r_)                                                                    \
                         :                                                                             \
                         : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm1",   \
                           "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",      \
                           "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",       \
                           "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26",       \
                           "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5",    \
                           "k6", "k7", "memory", "cc");                                                \
        r_;                                                                                            \
    })
#endif

#endif
