/// A line chart of one or more series over a shared x axis, e.g. loss per epoch.
///
/// ```
/// let chart = LineChart(
///     title: "Loss", xLabel: "epoch", yLabel: "loss",
///     series: [.init(name: "train", color: Palette.color(0), points: trainPoints)])
/// try AtomicFile.write(chart.svg(), to: "demos-output/loss.svg")
/// ```
/// Non-finite points (a diverged loss) break the line instead of corrupting the file. Long series
/// are thinned to the minimum and maximum of each pixel-wide bucket, which keeps spikes visible
/// and a 10,000-epoch curve small.
struct LineChart {
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
        var dashed = false
    }

    /// Where the legend box goes: where the curves are not, typically.
    enum LegendCorner {
        case topRight, bottomRight
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var includeZero = false
    /// Keeps the y axis inside this interval (e.g. accuracy in [0, 1]).
    var yClamp: ClosedRange<Double>? = nil
    var integerX = true
    var legendCorner = LegendCorner.topRight

    /// Points kept per series at most; beyond that the series is thinned.
    static let maximumPointsPerSeries = 600

    /// A standalone SVG document of this chart.
    func svg(width: Double = 480, height: Double = 340) -> String {
        var writer = SVGWriter(width: width, height: height)
        draw(into: &writer, frame: PlotRect(x: 0, y: 0, width: width, height: height))
        return writer.document()
    }

    /// Draws the chart inside `frame` of a larger document (panels of one figure).
    func draw(into svg: inout SVGWriter, frame: PlotRect) {
        let area = PlotRect(x: frame.x + 70, y: frame.y + 34, width: frame.width - 90, height: frame.height - 84)
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) }
        let xScale = AxisScale(
            covering: xs, pixels: (area.x, area.maxX), tickCount: 6, integerTicks: integerX)
        let yScale = AxisScale(
            covering: ys, pixels: (area.maxY, area.y), tickCount: 6, includeZero: includeZero, clamp: yClamp)
        let axes = PlotAxes(area: area, xScale: xScale, yScale: yScale, title: title, xLabel: xLabel, yLabel: yLabel)
        axes.drawGrid(into: &svg)
        for item in series {
            for segment in LineChart.finiteSegments(LineChart.thinned(item.points, to: LineChart.maximumPointsPerSeries)) {
                let pixels = segment.map { (x: xScale.pixel($0.x), y: yScale.pixel(min(max($0.y, yScale.lower), yScale.upper))) }
                if pixels.count == 1 {
                    svg.circle(cx: pixels[0].x, cy: pixels[0].y, r: 2.5, fill: item.color)
                } else {
                    svg.polyline(pixels, stroke: item.color, strokeWidth: 2, dashed: item.dashed)
                }
            }
        }
        axes.drawFrame(into: &svg)
        let legend = Legend(entries: series.map { .init(name: $0.name, color: $0.color, dashed: $0.dashed) })
        guard !legend.entries.isEmpty else { return }
        let size = legend.size
        let legendY = legendCorner == .topRight ? area.y + 8 : area.maxY - 8 - size.height
        legend.draw(into: &svg, x: area.maxX - 8 - size.width, y: legendY)
    }

    /// Runs of consecutive finite points.
    static func finiteSegments(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var segments: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for point in points {
            if point.x.isFinite && point.y.isFinite {
                current.append(point)
            } else if !current.isEmpty {
                segments.append(current)
                current = []
            }
        }
        if !current.isEmpty { segments.append(current) }
        return segments
    }

    /// At most about `limit` points: each bucket of consecutive points keeps its lowest and highest
    /// point, in their original order; the first and last points are always kept.
    static func thinned(_ points: [(x: Double, y: Double)], to limit: Int) -> [(x: Double, y: Double)] {
        guard points.count > limit, limit >= 4 else { return points }
        let bucketSize = (points.count + limit / 2 - 1) / (limit / 2)
        var kept: [(x: Double, y: Double)] = [points[0]]
        var start = 1
        while start < points.count - 1 {
            let end = min(start + bucketSize, points.count - 1)
            var lowest = start, highest = start
            for index in start..<end {
                // NaN compares false both ways; it is never chosen over a finite point.
                if points[index].y < points[lowest].y || points[lowest].y.isNaN { lowest = index }
                if points[index].y > points[highest].y || points[highest].y.isNaN { highest = index }
            }
            for index in Set([lowest, highest]).sorted() { kept.append(points[index]) }
            start = end
        }
        kept.append(points[points.count - 1])
        return kept
    }
}
