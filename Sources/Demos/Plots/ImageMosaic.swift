/// Rows of small grayscale images under section headings, e.g. a CNN's first-layer filters or the
/// feature maps one image produces, each image scaled up without smoothing and captioned.
///
/// ```
/// let mosaic = ImageMosaic(title: "mnist: first-layer filters", sections: [
///     .init(heading: "16 filters, 3 × 3 (gray 0, white positive, black negative)", images: filters)])
/// try AtomicFile.write(mosaic.svg(), to: "demos-output/mnist-filters.svg")
/// ```
struct ImageMosaic {
    struct Section {
        var heading: String
        var images: [GrayscaleImage]
        /// One caption per image, or none.
        var captions: [String] = []
        /// Screen pixels per image pixel.
        var scale = 3.0
        var columns = 8
    }

    var title: String
    var sections: [Section]

    /// The standalone SVG document.
    func svg() -> String {
        let margin = 12.0
        let gap = 8.0
        let captionHeight = 14.0
        var blocks: [(section: Section, cellWidth: Double, cellHeight: Double, rows: Int)] = []
        var width = 0.0
        for section in sections {
            let widest = Double(section.images.map(\.width).max() ?? 1) * section.scale
            let tallest = Double(section.images.map(\.height).max() ?? 1) * section.scale
            let cellWidth = max(widest, 40) + gap
            let cellHeight = tallest + (section.captions.isEmpty ? 0 : captionHeight) + gap
            let columns = max(1, min(section.columns, section.images.count))
            blocks.append((section, cellWidth, cellHeight, (section.images.count + columns - 1) / columns))
            width = max(width, 2 * margin + Double(columns) * cellWidth, 2 * margin + 7 * Double(section.heading.count))
        }
        let headingHeight = 26.0
        let top = 40.0
        let height = top + blocks.reduce(0) { $0 + headingHeight + Double($1.rows) * $1.cellHeight } + margin
        var svg = SVGWriter(width: width, height: height)
        svg.text(title, x: width / 2, y: 24, size: 15, anchor: .middle, bold: true)
        var y = top
        for block in blocks {
            svg.text(block.section.heading, x: margin, y: y + 16, size: 12, fill: "#555555")
            y += headingHeight
            let columns = max(1, min(block.section.columns, block.section.images.count))
            for (index, image) in block.section.images.enumerated() {
                let x = margin + Double(index % columns) * block.cellWidth
                let cellY = y + Double(index / columns) * block.cellHeight
                let (w, h) = (Double(image.width) * block.section.scale, Double(image.height) * block.section.scale)
                svg.image(png: image.png(), x: x, y: cellY, width: w, height: h)
                svg.rect(x: x, y: cellY, width: w, height: h, fill: "none", stroke: "#bbbbbb", strokeWidth: 0.5)
                if index < block.section.captions.count {
                    svg.text(
                        block.section.captions[index], x: x + w / 2, y: cellY + h + 11, size: 10, anchor: .middle,
                        fill: Palette.text)
                }
            }
            y += Double(block.rows) * block.cellHeight
        }
        return svg.document()
    }
}
