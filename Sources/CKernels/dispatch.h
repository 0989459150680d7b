// What every C kernel file shares: functions compiled for AVX2+FMA and the baseline, the variant
// chosen when the library loads (target_clones), and forced inlining.
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
#define DISPATCHED __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DISPATCHED
#endif
#define INLINE static inline __attribute__((always_inline))

#endif
