import Foundation

/// Fixed-format number and text helpers shared by the console output and the SVG writers.
///
/// Fixed precision (never `description`) keeps output byte-identical run to run and machine to
/// machine, and never prints `nan` into an SVG coordinate.
enum Format {
    /// `value` with exactly `digits` decimals; `nan`, `inf`, `-inf` for non-finite values.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let text = String(format: "%.\(digits)f", value)
        // "-0.00" reads as a bug in a table and differs from "0.00" byte-wise.
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            return String(text.dropFirst())
        }
        return text
    }

    /// A coordinate for SVG: at most two decimals, trailing zeros dropped (`12.5`, `3`, `0.25`).
    static func coordinate(_ value: Double) -> String {
        var text = fixed(value.isFinite ? value : 0, 2)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// A duration: `0.42 s`, `12.3 s`, then minutes as `4:05` or hours as `1:02:03`.
    static func seconds(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        if seconds < 10 { return fixed(seconds, 2) + " s" }
        if seconds < 60 { return fixed(seconds, 1) + " s" }
        return clock(seconds)
    }

    /// A countdown such as `0:07`, `4:05` or `1:02:03`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?:??" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60)
        let twoDigits = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return h > 0 ? "\(h):\(twoDigits(m)):\(twoDigits(s))" : "\(m):\(twoDigits(s))"
    }

    /// A rate with a k/M suffix: `950`, `12.3k`, `1.20M`.
    static func rate(_ perSecond: Double) -> String {
        guard perSecond.isFinite, perSecond >= 0 else { return "?" }
        if perSecond < 1_000 { return fixed(perSecond, 0) }
        if perSecond < 1_000_000 { return fixed(perSecond / 1_000, 1) + "k" }
        return fixed(perSecond / 1_000_000, 2) + "M"
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static func padRight(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
