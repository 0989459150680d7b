/// Builds an SVG document from hand-written elements, with every number in fixed precision and
/// every piece of text XML-escaped, so the same drawing always yields the same bytes.
struct SVGWriter {
    let width: Double
    let height: Double
    private var elements: [String] = []

    /// The font stack used for all text: DejaVu Sans is what Linux renderers have by default.
    static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// The finished document, ending in a newline.
    func document() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\""
        out += " width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\""
        out += " font-family=\"\(Self.fontFamily)\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#ffffff\"/>\n"
        for element in elements { out += element + "\n" }
        out += "</svg>\n"
        return out
    }

    /// `&`, `<`, `>`, `"` and `'` replaced by entities: safe in text and in attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: String,
        stroke: String? = nil, strokeWidth: Double = 1
    ) {
        var element = "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"\(fill)\""
        if let stroke { element += " stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\"" }
        elements.append(element + "/>")
    }

    mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, strokeWidth: Double = 1,
        dashed: Bool = false
    ) {
        var element = "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\""
        element += " stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\""
        if dashed { element += " stroke-dasharray=\"6 4\"" }
        elements.append(element + "/>")
    }

    mutating func polyline(
        _ points: [(x: Double, y: Double)], stroke: String, strokeWidth: Double = 1.5,
        dashed: Bool = false
    ) {
        guard !points.isEmpty else { return }
        let coordinates = points.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ")
        var element = "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(stroke)\""
        element += " stroke-width=\"\(n(strokeWidth))\" stroke-linejoin=\"round\""
        if dashed { element += " stroke-dasharray=\"6 4\"" }
        elements.append(element + "/>")
    }

    mutating func circle(
        cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil,
        strokeWidth: Double = 0.5
    ) {
        var element = "<circle cx=\"\(n(cx))\" cy=\"\(n(cy))\" r=\"\(n(r))\" fill=\"\(fill)\""
        if let stroke { element += " stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\"" }
        elements.append(element + "/>")
    }

    /// Many circles of one style in one group: the style is written once, not per point, which
    /// keeps a 3,000-point scatter near 100 kB.
    mutating func dots(
        _ centers: [(x: Double, y: Double)], r: Double, fill: String, stroke: String, strokeWidth: Double
    ) {
        guard !centers.isEmpty else { return }
        elements.append("<g fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(n(strokeWidth))\">")
        for center in centers {
            elements.append("<circle cx=\"\(n(center.x))\" cy=\"\(n(center.y))\" r=\"\(n(r))\"/>")
        }
        elements.append("</g>")
    }

    /// Where a text's `x` sits: its start, middle or end.
    enum Anchor: String {
        case start, middle, end
    }

    /// Text at (`x`, `y`), `y` being the baseline; `rotation` in degrees about (`x`, `y`).
    mutating func text(
        _ string: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
        fill: String = "#222222", bold: Bool = false, rotation: Double? = nil
    ) {
        var element = "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(n(size))\""
        if anchor != .start { element += " text-anchor=\"\(anchor.rawValue)\"" }
        if bold { element += " font-weight=\"bold\"" }
        element += " fill=\"\(fill)\""
        if let rotation { element += " transform=\"rotate(\(n(rotation)) \(n(x)) \(n(y)))\"" }
        elements.append(element + ">\(Self.escape(string))</text>")
    }

    /// An embedded PNG image, scaled to `width` × `height` without smoothing.
    mutating func image(png: [UInt8], x: Double, y: Double, width: Double, height: Double) {
        var element = "<image x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\""
        element += " image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\""
        element += " preserveAspectRatio=\"none\" xlink:href=\"data:image/png;base64,\(Base64.encode(png))\""
        elements.append(element + "/>")
    }

    /// Opens a group; `crispEdges` turns off anti-aliasing so abutting rectangles show no seams.
    mutating func beginGroup(crispEdges: Bool = false) {
        elements.append(crispEdges ? "<g shape-rendering=\"crispEdges\">" : "<g>")
    }

    mutating func endGroup() {
        elements.append("</g>")
    }

    private func n(_ value: Double) -> String { Format.coordinate(value) }
}

/// Standard base64 (RFC 4648) with padding, for `data:` URIs.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
