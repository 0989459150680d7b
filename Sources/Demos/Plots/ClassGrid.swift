import AutoDiff

/// A classifier's predicted class over a regular grid of the plane: the data behind a
/// decision-region plot.
///
/// Row 0 is the top row (largest y), matching SVG's downward y axis; cell centers are sampled.
struct ClassGrid: Equatable {
    let xRange: ClosedRange<Double>
    let yRange: ClosedRange<Double>
    let columns: Int
    let rows: Int
    /// `rows × columns` class indices, row-major from the top-left cell.
    let classes: [Int]

    init(xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, columns: Int, rows: Int, classes: [Int]) {
        precondition(columns > 0 && rows > 0 && classes.count == columns * rows, "ClassGrid: \(rows)×\(columns) needs \(rows * columns) classes, got \(classes.count)")
        self.xRange = xRange
        self.yRange = yRange
        self.columns = columns
        self.rows = rows
        self.classes = classes
    }

    /// The class at `row` (from the top) and `column` (from the left).
    subscript(row: Int, column: Int) -> Int { classes[row * columns + column] }

    /// The bounding box of `points` widened by `margin` (a fraction of each side's span).
    static func bounds(
        covering points: [LabeledPoint], margin: Double = 0.1
    ) -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        func widened(_ values: [Double]) -> ClosedRange<Double> {
            let finite = values.filter(\.isFinite)
            guard let low = finite.min(), let high = finite.max() else { return -1...1 }
            let pad = max((high - low) * margin, 1e-3)
            return (low - pad)...(high + pad)
        }
        return (widened(points.map(\.x)), widened(points.map(\.y)))
    }

    /// The cell centers as a `[rows · columns, 2]` tensor of (x, y), row-major from the top-left:
    /// the batch a model classifies in one call.
    static func cellCenters(
        xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, columns: Int, rows: Int
    ) -> Tensor<Float> {
        var scalars: [Float] = []
        scalars.reserveCapacity(rows * columns * 2)
        let cellWidth = (xRange.upperBound - xRange.lowerBound) / Double(columns)
        let cellHeight = (yRange.upperBound - yRange.lowerBound) / Double(rows)
        for row in 0..<rows {
            let y = yRange.upperBound - (Double(row) + 0.5) * cellHeight
            for column in 0..<columns {
                let x = xRange.lowerBound + (Double(column) + 0.5) * cellWidth
                scalars.append(Float(x))
                scalars.append(Float(y))
            }
        }
        return Tensor(shape: [rows * columns, 2], scalars: scalars)
    }

    /// Classifies every cell center with one call of `classify`, which receives a
    /// `[rows · columns, 2]` tensor and returns one class index per row.
    static func evaluate(
        xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, columns: Int = 100, rows: Int = 100,
        classify: (Tensor<Float>) throws -> [Int]
    ) throws -> ClassGrid {
        let centers = cellCenters(xRange: xRange, yRange: yRange, columns: columns, rows: rows)
        let classes = try classify(centers)
        guard classes.count == rows * columns else {
            throw DemoError.message(
                "the classifier returned \(classes.count) classes for \(rows * columns) grid points")
        }
        return ClassGrid(xRange: xRange, yRange: yRange, columns: columns, rows: rows, classes: classes)
    }
}

/// A 2-D data point and its class, as drawn over the decision regions.
struct LabeledPoint: Equatable {
    var x: Double
    var y: Double
    var label: Int

    /// Points from a `[n, 2]` tensor of coordinates and `n` labels.
    static func points(_ coordinates: Tensor<Float>, labels: [Int]) -> [LabeledPoint] {
        precondition(coordinates.shape == [labels.count, 2], "LabeledPoint: expected shape [\(labels.count), 2], got \(coordinates.shape)")
        let scalars = coordinates.scalars
        return labels.indices.map {
            LabeledPoint(x: Double(scalars[2 * $0]), y: Double(scalars[2 * $0 + 1]), label: labels[$0])
        }
    }
}
