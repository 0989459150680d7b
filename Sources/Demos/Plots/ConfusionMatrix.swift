/// Counts of (true class, predicted class) pairs, drawn as a heatmap with the counts in the cells.
///
/// Cell color is the fraction of its row (the recall of the true class), so a rare class's errors
/// are as visible as a common one's; the diagonal holds the correct predictions. A colour bar at
/// the right gives the scale, from 0 to 1.
struct ConfusionMatrix: Equatable {
    let classNames: [String]
    /// `counts[actual][predicted]`.
    let counts: [[Int]]

    init(classNames: [String], counts: [[Int]]) {
        precondition(
            counts.count == classNames.count && counts.allSatisfy { $0.count == classNames.count },
            "ConfusionMatrix: counts must be \(classNames.count)×\(classNames.count)")
        self.classNames = classNames
        self.counts = counts
    }

    /// Tallies `predictions` against `labels`; indices outside the classes are ignored.
    init(classNames: [String], predictions: [Int], labels: [Int]) {
        precondition(
            predictions.count == labels.count,
            "ConfusionMatrix: \(predictions.count) predictions for \(labels.count) labels")
        let k = classNames.count
        var counts = Array(repeating: Array(repeating: 0, count: k), count: k)
        for (predicted, actual) in zip(predictions, labels)
        where (0..<k).contains(predicted) && (0..<k).contains(actual) {
            counts[actual][predicted] += 1
        }
        self.init(classNames: classNames, counts: counts)
    }

    var total: Int { counts.joined().reduce(0, +) }

    /// The fraction of correct predictions (0 when empty).
    var accuracy: Double {
        let correct = counts.indices.reduce(0) { $0 + counts[$1][$1] }
        return total > 0 ? Double(correct) / Double(total) : 0
    }

    /// The standalone SVG heatmap.
    func svg(title: String) -> String {
        let k = classNames.count
        let cell = 46.0
        let longestName = Double(classNames.map(\.count).max() ?? 1)
        let left = 40 + longestName * 7 + 10
        let top = 56.0
        let bottom = 34 + (longestName > 3 ? longestName * 4.6 : 0) + 8
        let barLeft = left + Double(k) * cell + 20
        let width = barLeft + ConfusionMatrix.colorBarWidth + 34
        let height = top + Double(k) * cell + bottom
        var svg = SVGWriter(width: width, height: height)
        svg.text(title, x: width / 2, y: 22, size: 15, anchor: .middle, bold: true)
        svg.text(
            "accuracy \(Format.fixed(accuracy, 4)) on \(total) samples; color = fraction of the true class",
            x: width / 2, y: 42, size: 11, anchor: .middle, fill: "#555555")
        svg.beginGroup(crispEdges: true)
        for actual in 0..<k {
            let rowTotal = counts[actual].reduce(0, +)
            for predicted in 0..<k {
                let fraction = rowTotal > 0 ? Double(counts[actual][predicted]) / Double(rowTotal) : 0
                svg.rect(
                    x: left + Double(predicted) * cell, y: top + Double(actual) * cell, width: cell, height: cell,
                    fill: Palette.sequential(fraction), stroke: "#ffffff")
            }
        }
        svg.endGroup()
        for actual in 0..<k {
            let rowTotal = counts[actual].reduce(0, +)
            for predicted in 0..<k {
                let count = counts[actual][predicted]
                let fraction = rowTotal > 0 ? Double(count) / Double(rowTotal) : 0
                svg.text(
                    String(count), x: left + (Double(predicted) + 0.5) * cell,
                    y: top + (Double(actual) + 0.5) * cell + 4,
                    size: 11, anchor: .middle,
                    fill: fraction > 0.5 ? "#ffffff" : (count == 0 ? "#aaaaaa" : Palette.text))
            }
            svg.text(
                classNames[actual], x: left - 6, y: top + (Double(actual) + 0.5) * cell + 4, size: 11, anchor: .end)
        }
        // Long names (Fashion-MNIST's) are slanted so neighbours do not overlap; digits stay upright.
        let slanted = longestName > 3
        let labelY = top + Double(k) * cell + (slanted ? 12 : 16)
        for predicted in 0..<k {
            let x = left + (Double(predicted) + 0.5) * cell
            if slanted {
                svg.text(classNames[predicted], x: x + 3, y: labelY, size: 11, anchor: .end, rotation: -40)
            } else {
                svg.text(classNames[predicted], x: x, y: labelY, size: 11, anchor: .middle)
            }
        }
        drawColorBar(into: &svg, x: barLeft, top: top, height: Double(k) * cell)
        svg.text("predicted", x: left + Double(k) * cell / 2, y: height - 10, size: 12, anchor: .middle, bold: true)
        svg.text("true", x: 16, y: top + Double(k) * cell / 2, size: 12, anchor: .middle, bold: true, rotation: -90)
        return svg.document()
    }

    static let colorBarWidth = 14.0

    /// The scale of the cell colours: `Palette.sequential` from 1 at the top to 0 at the bottom,
    /// in 50 bands, with ticks at 0, 0.25, 0.5, 0.75 and 1.
    func drawColorBar(into svg: inout SVGWriter, x: Double, top: Double, height: Double) {
        let bands = 50
        let bandHeight = height / Double(bands)
        svg.beginGroup(crispEdges: true)
        for band in 0..<bands {
            // Each band shows the colour of its middle; the top band is nearest 1.
            let fraction = 1 - (Double(band) + 0.5) / Double(bands)
            svg.rect(
                x: x, y: top + Double(band) * bandHeight, width: ConfusionMatrix.colorBarWidth, height: bandHeight,
                fill: Palette.sequential(fraction))
        }
        svg.endGroup()
        svg.rect(
            x: x, y: top, width: ConfusionMatrix.colorBarWidth, height: height, fill: "none", stroke: Palette.axis,
            strokeWidth: 0.5)
        for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = top + (1 - tick) * height
            svg.line(
                x1: x + ConfusionMatrix.colorBarWidth, y1: y, x2: x + ConfusionMatrix.colorBarWidth + 4, y2: y,
                stroke: Palette.axis)
            svg.text(Format.fixed(tick, 2), x: x + ConfusionMatrix.colorBarWidth + 6, y: y + 4, size: 10)
        }
    }
}
