/// A 2-D classifier's decision regions with the data points drawn over them.
///
/// ```
/// let points = LabeledPoint.points(testInputs, labels: testLabels)
/// let bounds = ClassGrid.bounds(covering: points)
/// let grid = try ClassGrid.evaluate(xRange: bounds.x, yRange: bounds.y) { model.predictClasses($0) }
/// let plot = DecisionRegions(title: "moons", grid: grid, points: points, classNames: ["0", "1"],
///                            predictions: model.predictClasses(testInputs))
/// try AtomicFile.write(plot.svg(), to: "demos-output/moons-regions.svg")
/// ```
/// Each grid row's runs of equal class become one rectangle, and a rectangle continues downwards
/// while the rows below have the same run: a 100 × 100 grid of smooth regions takes a few hundred
/// rectangles, not 10,000.
struct DecisionRegions {
    var title: String
    var grid: ClassGrid
    var points: [LabeledPoint]
    var classNames: [String]
    /// The model's class for each of ``points``, in order: the points it gets wrong are ringed in
    /// red. `nil`: no marks.
    var predictions: [Int]? = nil

    /// The indices of the points whose prediction differs from their label.
    var misclassified: [Int] {
        guard let predictions else { return [] }
        return zip(points, predictions).enumerated().filter { $0.element.0.label != $0.element.1 }.map(\.offset)
    }

    /// A rectangle of grid cells of one class: rows `top..<bottom`, columns `left..<right`.
    struct CellBlock: Equatable {
        var top: Int
        var bottom: Int
        var left: Int
        var right: Int
        var classIndex: Int
    }

    /// The standalone SVG document: the plot area `plotWidth` wide, and the legend to its right,
    /// outside it, so it covers no region.
    func svg(plotWidth: Double = 560, height: Double = 520) -> String {
        let legend = self.legend
        let width = plotWidth + legend.size.width + 16
        var svg = SVGWriter(width: width, height: height)
        let area = PlotRect(x: 70, y: 34, width: plotWidth - 90, height: height - 84)
        // The scales span exactly the grid (no widening to ticks): the regions fill the frame.
        let xScale = AxisScale(
            covering: [grid.xRange.lowerBound, grid.xRange.upperBound], pixels: (area.x, area.maxX),
            clamp: grid.xRange)
        let yScale = AxisScale(
            covering: [grid.yRange.lowerBound, grid.yRange.upperBound], pixels: (area.maxY, area.y),
            clamp: grid.yRange)
        let cellWidth = area.width / Double(grid.columns)
        let cellHeight = area.height / Double(grid.rows)
        svg.beginGroup(crispEdges: true)
        for block in DecisionRegions.blocks(of: grid) {
            svg.rect(
                x: area.x + Double(block.left) * cellWidth, y: area.y + Double(block.top) * cellHeight,
                width: Double(block.right - block.left) * cellWidth,
                height: Double(block.bottom - block.top) * cellHeight,
                fill: Palette.lighten(Palette.color(block.classIndex), by: 0.7))
        }
        svg.endGroup()
        // The pixel centers of `points` that are finite and inside the frame.
        func centers(_ points: some Sequence<LabeledPoint>) -> [(x: Double, y: Double)] {
            points.lazy
                .filter { $0.x.isFinite && $0.y.isFinite }
                .map { (x: xScale.pixel($0.x), y: yScale.pixel($0.y)) }
                .filter { $0.x >= area.x && $0.x <= area.maxX && $0.y >= area.y && $0.y <= area.maxY }
        }
        // One group per class, in class order: later classes are drawn over earlier ones.
        for label in Set(points.map(\.label)).sorted() {
            svg.dots(
                centers(points.lazy.filter { $0.label == label }), r: 2.6, fill: Palette.color(label),
                stroke: "#ffffff", strokeWidth: 0.6)
        }
        // Rings around the points the model gets wrong, over every class.
        svg.dots(centers(misclassified.map { points[$0] }), r: 5, fill: "none", stroke: Palette.wrong, strokeWidth: 1.6)
        PlotAxes(area: area, xScale: xScale, yScale: yScale, title: title, xLabel: "x₁", yLabel: "x₂")
            .drawFrame(into: &svg)
        legend.draw(into: &svg, x: area.maxX + 12, y: area.y)
        return svg.document()
    }

    /// One dot per class, and the ring of the misclassified points when predictions are given.
    var legend: Legend {
        let classCount = max(classNames.count, (points.map(\.label) + grid.classes).max().map { $0 + 1 } ?? 0)
        var entries: [Legend.Entry] = (0..<classCount).map {
            .init(name: $0 < classNames.count ? classNames[$0] : "class \($0)", color: Palette.color($0), dot: true)
        }
        if predictions != nil {
            entries.append(.init(name: "misclassified (\(misclassified.count))", color: Palette.wrong, ring: true))
        }
        return Legend(entries: entries)
    }

    /// The grid as maximal vertical stacks of equal horizontal runs, in a fixed order (by the row
    /// where they end, then left to right), so the output is deterministic.
    static func blocks(of grid: ClassGrid) -> [CellBlock] {
        var finished: [CellBlock] = []
        var open: [CellBlock] = []
        for row in 0..<grid.rows {
            var runs: [CellBlock] = []
            var start = 0
            for column in 1...grid.columns {
                if column == grid.columns || grid[row, column] != grid[row, start] {
                    runs.append(
                        CellBlock(top: row, bottom: row + 1, left: start, right: column, classIndex: grid[row, start]))
                    start = column
                }
            }
            var stillOpen: [CellBlock] = []
            for run in runs {
                if let index = open.firstIndex(where: {
                    $0.left == run.left && $0.right == run.right && $0.classIndex == run.classIndex
                }) {
                    var extended = open.remove(at: index)
                    extended.bottom = row + 1
                    stillOpen.append(extended)
                } else {
                    stillOpen.append(run)
                }
            }
            finished.append(contentsOf: open)
            open = stillOpen
        }
        finished.append(contentsOf: open)
        return finished
    }
}
