/// A grid of images with the predicted and true label under each; misclassified images get a red
/// frame and red labels.
///
/// ```
/// let items = (0..<40).map { ImageGrid.Item(image: images[$0], predicted: predictions[$0], actual: labels[$0]) }
/// let grid = ImageGrid(title: "MNIST test images", items: items, classNames: MNISTDataset.digits.classNames)
/// try AtomicFile.write(grid.svg(), to: "demos-output/mnist-samples.svg")
/// ```
/// Images are embedded as small PNGs and scaled up without smoothing, so the file stays small
/// (about 1.3 kB per 28 × 28 image).
struct ImageGrid {
    struct Item {
        var image: GrayscaleImage
        var predicted: Int
        var actual: Int
        var isCorrect: Bool { predicted == actual }
    }

    var title: String
    var items: [Item]
    var classNames: [String]
    var columns = 8
    /// Screen pixels per image pixel.
    var scale = 3.0

    /// The standalone SVG document.
    func svg() -> String {
        let imageSide = 28 * scale
        let cellWidth = max(imageSide, 116) + 8
        let cellHeight = imageSide + 40
        let columnCount = max(1, min(columns, items.count))
        let rowCount = (items.count + columnCount - 1) / columnCount
        let top = 56.0
        let width = Double(columnCount) * cellWidth + 16
        let height = top + Double(rowCount) * cellHeight + 8
        var svg = SVGWriter(width: width, height: height)
        let wrong = items.filter { !$0.isCorrect }.count
        svg.text(title, x: width / 2, y: 22, size: 15, anchor: .middle, bold: true)
        svg.text(
            "\(items.count - wrong) of \(items.count) correct; misclassified in red (pred = predicted, true = label)",
            x: width / 2, y: 42, size: 11, anchor: .middle, fill: "#555555")
        for (index, item) in items.enumerated() {
            let cellX = 8 + Double(index % columnCount) * cellWidth
            let cellY = top + Double(index / columnCount) * cellHeight
            let imageX = cellX + (cellWidth - imageSide) / 2
            let image = item.image
            svg.image(png: image.png(), x: imageX, y: cellY, width: imageSide, height: imageSide * Double(image.height) / Double(image.width))
            let color = item.isCorrect ? Palette.text : Palette.wrong
            if !item.isCorrect {
                svg.rect(x: imageX - 2, y: cellY - 2, width: imageSide + 4, height: imageSide + 4, fill: "none", stroke: Palette.wrong, strokeWidth: 2)
            }
            let centerX = cellX + cellWidth / 2
            svg.text("pred: \(name(item.predicted))", x: centerX, y: cellY + imageSide + 15, size: 11, anchor: .middle, fill: color, bold: !item.isCorrect)
            svg.text("true: \(name(item.actual))", x: centerX, y: cellY + imageSide + 29, size: 11, anchor: .middle, fill: color)
        }
        return svg.document()
    }

    private func name(_ index: Int) -> String {
        index >= 0 && index < classNames.count ? classNames[index] : String(index)
    }
}
