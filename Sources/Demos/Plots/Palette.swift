/// Colors shared by the plots: one per class or series, readable on white and distinguishable
/// with the common color-vision deficiencies (the Okabe–Ito palette).
enum Palette {
    static let classes = [
        "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9",
        "#d55e00", "#f0e442", "#000000", "#999999", "#7f3c8d",
    ]
    static let axis = "#444444"
    static let grid = "#e5e5e5"
    static let text = "#222222"
    static let wrong = "#d62728"

    /// The color of class or series `index`, cycling when there are more than ten.
    static func color(_ index: Int) -> String {
        classes[((index % classes.count) + classes.count) % classes.count]
    }

    /// `hex` mixed with white: `amount` 0 keeps it, 1 gives white (region fills under points).
    static func lighten(_ hex: String, by amount: Double) -> String {
        let (r, g, b) = components(hex)
        func mix(_ c: Double) -> Double { c + (255 - c) * amount }
        return self.hex(mix(r), mix(g), mix(b))
    }

    /// A sequential white-to-dark-blue scale: `t` 0 is near white, 1 is dark blue.
    static func sequential(_ t: Double) -> String {
        let t = min(max(t.isFinite ? t : 0, 0), 1)
        let low = (247.0, 251.0, 255.0), high = (8.0, 48.0, 107.0)
        return hex(
            low.0 + (high.0 - low.0) * t, low.1 + (high.1 - low.1) * t, low.2 + (high.2 - low.2) * t)
    }

    private static func components(_ hex: String) -> (Double, Double, Double) {
        let value = Int(hex.dropFirst(), radix: 16) ?? 0
        return (Double(value >> 16 & 255), Double(value >> 8 & 255), Double(value & 255))
    }

    private static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        func byte(_ c: Double) -> String {
            let v = Int(min(max(c.rounded(), 0), 255))
            let digits = String(v, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return "#" + byte(r) + byte(g) + byte(b)
    }
}
