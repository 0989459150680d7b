import CMalloc

/// The host CPU's backend (``Device/cpu``): vectorised Swift and C loops, OpenBLAS for large
/// products, register-tiled loops for thin ones, and one pool of threads (``ComputeThreads``)
/// for everything large.
///
/// Each requirement picks the kernels of the buffers' element type (`CPUKernels`) once, so
/// the loops below it are specialised for `Float` or `Double`.
public final class CPUBackend: HostMemoryBackend {
    /// The one instance, behind ``Device/cpu``.
    public static let shared = CPUBackend()

    public var name: String { "cpu" }

    private init() {
        // Training allocates and frees the same buffers every step. With glibc's defaults,
        // buffers above 128 KiB come from mmap (zeroed pages, a fault per page, every time) and
        // freed memory at the top of the heap is returned to the system, to be faulted in again
        // on the next step. Keep a step's working set instead: buffers up to 32 MiB come from the
        // heap and up to 64 MiB of freed memory stays mapped for reuse. Larger buffers (whole
        // data sets) still come from mmap and go back to the system when freed.
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 64 << 20)
    }

    let f32 = CPUKernels<Float>.float
    let f64 = CPUKernels<Double>.double
}

/// Stops with a message naming a kernel asked to compute in a type it has no loops for (a
/// programming error in an op: every op checks its element types before it calls a kernel).
func unsupported(_ dtype: DType, _ kernel: String) -> Never {
    tensorFailure("internal: kernel \(kernel) has no \(dtype) implementation")
}
