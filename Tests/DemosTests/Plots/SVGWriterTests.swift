import AutoDiff
import Foundation
import NN
import Testing

@testable import Demos

/// Every figure is well-formed XML, has its labels, and is byte-identical for identical input.
@Suite("SVG figures")
struct SVGFigureTests {
    /// Each figure kind, built from the fixtures.
    enum Figure: String, CaseIterable, Sendable {
        case lineChart, trainingCurves, decisionRegions, imageGrid, confusionMatrix

        func render() throws -> String {
            switch self {
            case .lineChart:
                return LineChart(
                    title: "loss <&> \"quoted\"", xLabel: "epoch", yLabel: "loss",
                    series: [
                        .init(
                            name: "train & test", color: Palette.color(0),
                            points: PlotFixtures.history().map { (Double($0.epoch), $0.trainLoss) })
                    ]
                ).svg()
            case .trainingCurves:
                return TrainingCurves(demo: "moons", history: PlotFixtures.history(), heldOutName: "test").svg()
            case .decisionRegions:
                let bounds = ClassGrid.bounds(covering: PlotFixtures.moonPoints)
                let grid = try ClassGrid.evaluate(xRange: bounds.x, yRange: bounds.y, classify: PlotFixtures.classify)
                return DecisionRegions(
                    title: "moons", grid: grid, points: PlotFixtures.moonPoints, classNames: ["upper", "lower", "disk"]
                ).svg()
            case .imageGrid:
                let items = (0..<12).map {
                    ImageGrid.Item(image: PlotFixtures.digit($0), predicted: $0 % 10, actual: $0 % 7 == 3 ? 1 : $0 % 10)
                }
                return ImageGrid(title: "digits", items: items, classNames: MNISTDataset.fashion.classNames).svg()
            case .confusionMatrix:
                let labels = (0..<500).map { $0 % 10 }
                let predictions = labels.enumerated().map { $0.offset % 13 == 0 ? ($0.element + 1) % 10 : $0.element }
                return ConfusionMatrix(
                    classNames: MNISTDataset.fashion.classNames, predictions: predictions, labels: labels
                ).svg(title: "fashion <test>")
            }
        }
    }

    @Test(arguments: Figure.allCases)
    func isWellFormedSVG(figure: Figure) throws {
        let svg = try figure.render()
        let check = XMLCheck.parse(svg)
        #expect(check.isWellFormed, "\(check.error ?? "")")
        #expect(check.elementNames.first == "svg")
        #expect(check.rootAttributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(check.rootAttributes["viewBox"] != nil)
        #expect(!svg.contains("nan") && !svg.contains("inf\""), "no non-finite coordinates")
    }

    @Test(arguments: Figure.allCases)
    func sameInputGivesIdenticalBytes(figure: Figure) throws {
        #expect(try figure.render() == figure.render())
    }

    @Test func textIsEscaped() throws {
        let svg = try Figure.lineChart.render()
        #expect(svg.contains("loss &lt;&amp;&gt; &quot;quoted&quot;"))
        #expect(XMLCheck.parse(svg).texts.contains("loss <&> \"quoted\""))
        #expect(XMLCheck.parse(svg).texts.contains("train & test"))
    }

    @Test func curvesHaveAxesTicksAndLegend() throws {
        let check = XMLCheck.parse(try Figure.trainingCurves.render())
        for text in [
            "moons: loss", "moons: accuracy", "epoch", "loss", "accuracy", TrainingCurves.trainSeriesName, "test", "0",
            "50",
        ] {
            #expect(check.texts.contains(text), "missing label \(text)")
        }
        #expect(check.count("polyline") == 4)
    }

    @Test func nonFiniteValuesBreakTheLine() {
        var history = PlotFixtures.history(epochs: 10)
        history[4].trainLoss = .nan
        history[5].trainLoss = .infinity
        let svg = TrainingCurves(demo: "x", history: history).svg()
        #expect(XMLCheck.parse(svg).isWellFormed)
        #expect(!svg.contains("nan"))
        // train loss in two pieces, validation loss, train and validation accuracy
        #expect(XMLCheck.parse(svg).count("polyline") == 5)
    }

    @Test func longSeriesAreThinnedKeepingEnds() {
        let points = (0..<10_000).map { (x: Double($0), y: $0 == 5_000 ? 9.0 : 1.0) }
        let kept = LineChart.thinned(points, to: LineChart.maximumPointsPerSeries)
        #expect(kept.count <= LineChart.maximumPointsPerSeries + 2)
        #expect(kept.first?.x == 0 && kept.last?.x == 9_999)
        #expect(kept.contains { $0.y == 9 }, "the spike survives")
    }

    @Test func imageGridMarksWrongPredictions() throws {
        let check = XMLCheck.parse(try Figure.imageGrid.render())
        #expect(check.count("image") == 12)
        #expect(check.texts.contains("pred: Coat"))
        #expect(check.texts.contains("true: Trouser"))
        #expect(check.texts.contains { $0.hasPrefix("10 of 12 correct") })
        let svg = try Figure.imageGrid.render()
        #expect(svg.components(separatedBy: "stroke=\"\(Palette.wrong)\"").count - 1 == 2)
    }

    @Test func confusionMatrixShowsCountsAndLabels() throws {
        let check = XMLCheck.parse(try Figure.confusionMatrix.render())
        #expect(check.texts.contains("Ankle boot"))
        #expect(check.texts.contains("predicted"))
        #expect(check.texts.contains("true"))
        // The background, 100 cells with counts, the colour bar's 50 bands and its frame.
        #expect(check.count("rect") == 1 + 100 + 50 + 1)
    }

    @Test func figuresStaySmall() throws {
        #expect(try Figure.decisionRegions.render().utf8.count < 100_000)
        #expect(try Figure.imageGrid.render().utf8.count < 40_000)
        // The spiral's 3,000 validation points over a 100 × 100 grid.
        let spiral = (0..<3_000).map { index -> LabeledPoint in
            let (label, t) = (index / 1_000, Double(index % 1_000) / 1_000)
            let angle = Double(label) * 4 + t * 4
            return LabeledPoint(x: t * sin(angle), y: t * cos(angle), label: label)
        }
        let bounds = ClassGrid.bounds(covering: spiral)
        let grid = try ClassGrid.evaluate(xRange: bounds.x, yRange: bounds.y) { points in
            let scalars = points.scalars
            return (0..<(scalars.count / 2)).map { Int(scalars[2 * $0] * 3 + 3) % 3 }
        }
        let svg = DecisionRegions(title: "spiral", grid: grid, points: spiral, classNames: ["0", "1", "2"]).svg()
        #expect(svg.utf8.count < 160_000, "\(svg.utf8.count) bytes")
        #expect(XMLCheck.parse(svg).count("circle") == 3_000 + 3, "the points and the legend's dots")
    }

    @Test func misclassifiedPointsAreRingedAndTheLegendSitsOutsideTheRegions() throws {
        let points = PlotFixtures.moonPoints
        let bounds = ClassGrid.bounds(covering: points)
        let grid = try ClassGrid.evaluate(xRange: bounds.x, yRange: bounds.y, classify: PlotFixtures.classify)
        // Every fifth point predicted as the other class.
        let predictions = points.enumerated().map { $0.offset % 5 == 0 ? 1 - $0.element.label : $0.element.label }
        let plot = DecisionRegions(
            title: "moons", grid: grid, points: points, classNames: ["0", "1"], predictions: predictions)
        #expect(plot.misclassified == Array(stride(from: 0, to: 200, by: 5)))
        let svg = plot.svg(plotWidth: 560)
        let check = XMLCheck.parse(svg)
        #expect(check.isWellFormed)
        // 200 points, 40 rings, and the legend's dots (the fixture's classifier has 3 classes) and ring.
        #expect(check.count("circle") == 200 + 40 + 3 + 1)
        #expect(svg.contains(#"<g fill="none" stroke="\#(Palette.wrong)""#))
        #expect(check.texts.contains("misclassified (40)"))
        // The plot area ends at 560 − 20; the legend's box starts to its right.
        #expect(svg.contains(#"<rect x="552" y="34""#))
        #expect(Double(check.rootAttributes["width"] ?? "") == 560 + plot.legend.size.width + 16)
    }
}

@Suite("Decision regions")
struct DecisionRegionTests {
    @Test func blocksTileTheGridExactly() throws {
        let grid = try ClassGrid.evaluate(
            xRange: -1...2, yRange: -1...1.5, columns: 60, rows: 40, classify: PlotFixtures.classify)
        let blocks = DecisionRegions.blocks(of: grid)
        var covered = Array(repeating: -1, count: grid.rows * grid.columns)
        for block in blocks {
            for row in block.top..<block.bottom {
                for column in block.left..<block.right {
                    #expect(covered[row * grid.columns + column] == -1, "cells covered once")
                    covered[row * grid.columns + column] = block.classIndex
                }
            }
        }
        #expect(covered == grid.classes)
        #expect(blocks.count < 300, "runs are merged: \(blocks.count) blocks for 2,400 cells")
    }

    @Test func uniformGridIsOneBlock() {
        let grid = ClassGrid(
            xRange: 0...1, yRange: 0...1, columns: 100, rows: 100, classes: Array(repeating: 1, count: 10_000))
        #expect(DecisionRegions.blocks(of: grid) == [.init(top: 0, bottom: 100, left: 0, right: 100, classIndex: 1)])
    }

    @Test func cellCentersRunFromTopLeft() {
        let centers = ClassGrid.cellCenters(xRange: 0...4, yRange: 0...2, columns: 4, rows: 2)
        #expect(centers.shape == [8, 2])
        #expect(Array(centers.scalars.prefix(4)) == [0.5, 1.5, 1.5, 1.5])
        #expect(Array(centers.scalars.suffix(2)) == [3.5, 0.5])
    }

    @Test func classifierReturningTheWrongCountIsAnError() {
        #expect(throws: DemoError.self) {
            try ClassGrid.evaluate(xRange: 0...1, yRange: 0...1, columns: 10, rows: 10) { _ in [0] }
        }
    }

    @Test func pointsFromATensor() {
        let tensor = Tensor<Float>(shape: [2, 2], scalars: [1, 2, 3, 4])
        #expect(
            LabeledPoint.points(tensor, labels: [0, 1]) == [.init(x: 1, y: 2, label: 0), .init(x: 3, y: 4, label: 1)])
    }
}

@Suite("PNG and axes")
struct PNGAndAxisTests {
    @Test func pngHasSignatureChunksAndChecksums() throws {
        let image = PlotFixtures.digit(1)
        let png = image.png()
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(PNGChunk.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        // Walk the chunks: each CRC covers type and data; IDAT inflates back to the filtered rows.
        var chunks: [(type: String, data: [UInt8])] = []
        var offset = 8
        func bigEndian(_ at: Int) -> UInt32 { png[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        while offset + 12 <= png.count {
            let length = Int(bigEndian(offset))
            let typeAndData = Array(png[(offset + 4)..<(offset + 8 + length)])
            #expect(bigEndian(offset + 8 + length) == PNGChunk.crc32(typeAndData))
            chunks.append((String(decoding: typeAndData.prefix(4), as: UTF8.self), Array(typeAndData.dropFirst(4))))
            offset += 12 + length
        }
        #expect(offset == png.count)
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        #expect(chunks[0].data == [0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0])
        let rows = try Gzip.decompress(chunks[1].data)
        var expected: [UInt8] = []
        for row in 0..<image.height { expected += [0] + image.pixels[(row * image.width)..<((row + 1) * image.width)] }
        #expect(rows == expected)
        #expect(png.count < 1_000)
    }

    @Test func confusionMatrixHasAColorBarFromZeroToOne() throws {
        let matrix = ConfusionMatrix(classNames: ["a", "b"], counts: [[3, 1], [0, 4]])
        let check = XMLCheck.parse(matrix.svg(title: "m"))
        #expect(check.isWellFormed)
        for tick in ["0.00", "0.25", "0.50", "0.75", "1.00"] { #expect(check.texts.contains(tick)) }
        // The background, 4 cells, 50 bands and the bar's frame.
        #expect(check.count("rect") == 1 + 4 + 50 + 1)
    }

    @Test func base64() {
        #expect(Base64.encode(Array("Man".utf8)) == "TWFu")
        #expect(Base64.encode(Array("Ma".utf8)) == "TWE=")
        #expect(Base64.encode(Array("M".utf8)) == "TQ==")
    }

    @Test func intensitiesMapToBytes() {
        let image = GrayscaleImage(width: 2, height: 2, intensities: [0, 1, 0.5, 7])
        #expect(image.pixels == [0, 255, 128, 255])
    }

    @Test(
        arguments: [
            ([0.03, 0.71], false, [0.0, 0.2, 0.4, 0.6, 0.8]),
            ([0.0, 1.0], false, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
            ([1.0, 300.0], true, [0, 100, 200, 300]),
            ([1.0, 7.0], true, [0, 2, 4, 6, 8]),
        ] as [([Double], Bool, [Double])])
    func niceTicks(values: [Double], integer: Bool, ticks: [Double]) {
        let scale = AxisScale(covering: values, pixels: (0, 100), integerTicks: integer)
        #expect(scale.ticks.count == ticks.count)
        for (tick, expected) in zip(scale.ticks, ticks) {
            #expect(abs(tick - expected) < 1e-9)
        }
    }

    @Test func clampKeepsAccuracyWithinOne() {
        let scale = AxisScale(covering: [0.55, 0.999], pixels: (0, 100), clamp: 0...1)
        #expect(scale.upper == 1)
        #expect(scale.label(0.6) == "0.6")
    }

    @Test func degenerateRangeStillHasTicks() {
        let scale = AxisScale(covering: [0.5, 0.5], pixels: (0, 100))
        #expect(scale.lower < 0.5 && scale.upper > 0.5)
        #expect(scale.ticks.count >= 2)
    }
}
