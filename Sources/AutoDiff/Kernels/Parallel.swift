import Dispatch
import Foundation

/// Splits large elementwise work across cores. Only work of at least ``minimumElements`` is
/// split: below it, handing chunks to other threads costs more than it saves.
enum Parallel {
    /// Elements below which elementwise work stays on the calling thread.
    static let minimumElements = 1 << 16
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body(start, count)` on disjoint chunks covering `0..<n`, each starting at a
    /// multiple of `alignment` (e.g. a row length, so that chunks are whole rows).
    @inline(__always)
    static func chunks(_ n: Int, alignment: Int = 16, _ body: (Int, Int) -> Void) {
        let units = alignment > 0 ? (n + alignment - 1) / alignment : n
        guard n >= minimumElements && cores > 1 && units > 1 else {
            body(0, n)
            return
        }
        let parts = min(cores, units)
        let unitsPerPart = (units + parts - 1) / parts
        withoutActuallyEscaping(body) { escapable in
            // Each chunk writes a disjoint range; concurrentPerform returns when all are done.
            nonisolated(unsafe) let work = escapable
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let start = part * unitsPerPart * alignment
                let count = min(unitsPerPart * alignment, n - start)
                if count > 0 { work(start, count) }
            }
        }
    }
}
