import CMalloc

/// Training allocates and frees the same buffers every step. With glibc's defaults, buffers above
/// 128 KiB come from mmap (zeroed pages, a fault per page, every time) and freed memory at the top
/// of the heap is returned to the system, to be faulted in again on the next step. Keep a step's
/// working set instead: buffers up to 32 MiB come from the heap and up to 64 MiB of freed memory
/// stays mapped for reuse. Larger buffers (whole data sets) still come from mmap and go back to
/// the system when freed, so one-off loads do not stay resident.
private let mallocTuning: Void = {
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 64 << 20)
}()

/// A contiguous, row-major buffer of scalars in host memory, allocated in one piece with its
/// header.
///
/// Storage is the seam between the tape and the numbers: rules and the engine only ever see
/// ``Tensor`` values, and every kernel that reads or writes a buffer lives in `Kernels/`. A second
/// backend (a device buffer) is a second kind of storage plus a second set of kernels.
public final class TensorStorage<Scalar: TensorScalar>: ManagedBuffer<Int, Scalar> {
    /// Allocates uninitialised storage for `count` scalars (the caller writes every element).
    @inline(__always)
    static func allocate(_ count: Int) -> TensorStorage {
        _ = mallocTuning
        let buffer = TensorStorage.create(minimumCapacity: max(count, 1)) { _ in count }
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    /// Allocates storage with every element equal to `value`.
    static func filled(_ count: Int, with value: Scalar) -> TensorStorage {
        let s = allocate(count)
        s.withUnsafeMutablePointerToElements { $0.initialize(repeating: value, count: count) }
        return s
    }

    /// Allocates storage holding a copy of `source`.
    static func copying(_ source: UnsafeBufferPointer<Scalar>) -> TensorStorage {
        let s = allocate(source.count)
        if let base = source.baseAddress {
            s.withUnsafeMutablePointerToElements { $0.initialize(from: base, count: source.count) }
        }
        return s
    }

    /// The number of scalars.
    @inline(__always) var count: Int { header }

    /// The first element; valid for `count` elements while `self` is alive.
    @inline(__always) var base: UnsafeMutablePointer<Scalar> {
        withUnsafeMutablePointerToElements { $0 }
    }

    /// A new storage with the same contents.
    func clone() -> TensorStorage {
        TensorStorage.copying(UnsafeBufferPointer(start: base, count: count))
    }
}
