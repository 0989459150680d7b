#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The machine's physical memory in bytes (`sysconf(_SC_PHYS_PAGES) · sysconf(_SC_PAGESIZE)`):
/// the bound past which an allocation cannot succeed, so sizes read from a file or an option are
/// refused above it before anything is allocated.
public enum PhysicalMemory {
    /// The physical memory in bytes, read once (`Int.max` when the system does not say).
    public static let bytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return .max }
        let (product, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? .max : product
    }()

    /// `bytes` in the largest unit that keeps it ≥ 1, one decimal: `"23.4 GB"` (powers of 1000).
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
