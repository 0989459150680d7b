/// A rectangle in pixels.
struct PlotRect: Equatable {
    var x: Double
    var y: Double
    var width: Double
    var height: Double
    var maxX: Double { x + width }
    var maxY: Double { y + height }
}

/// Draws a plot's frame: grid lines, tick marks and labels on both axes, axis titles, and the
/// plot title above. Shared by the line charts and the decision-region plot.
struct PlotAxes {
    let area: PlotRect
    let xScale: AxisScale
    let yScale: AxisScale
    var title: String
    var xLabel: String
    var yLabel: String

    /// Grid lines first, so the data drawn afterwards sits on top of them.
    func drawGrid(into svg: inout SVGWriter) {
        svg.beginGroup(crispEdges: true)
        for tick in xScale.ticks {
            let x = xScale.pixel(tick)
            svg.line(x1: x, y1: area.y, x2: x, y2: area.maxY, stroke: Palette.grid)
        }
        for tick in yScale.ticks {
            let y = yScale.pixel(tick)
            svg.line(x1: area.x, y1: y, x2: area.maxX, y2: y, stroke: Palette.grid)
        }
        svg.endGroup()
    }

    /// The frame, ticks and labels, drawn over the data.
    func drawFrame(into svg: inout SVGWriter) {
        svg.beginGroup(crispEdges: true)
        svg.rect(x: area.x, y: area.y, width: area.width, height: area.height, fill: "none", stroke: Palette.axis)
        for tick in xScale.ticks {
            let x = xScale.pixel(tick)
            svg.line(x1: x, y1: area.maxY, x2: x, y2: area.maxY + 5, stroke: Palette.axis)
        }
        for tick in yScale.ticks {
            let y = yScale.pixel(tick)
            svg.line(x1: area.x - 5, y1: y, x2: area.x, y2: y, stroke: Palette.axis)
        }
        svg.endGroup()
        for tick in xScale.ticks {
            svg.text(xScale.label(tick), x: xScale.pixel(tick), y: area.maxY + 18, size: 11, anchor: .middle)
        }
        for tick in yScale.ticks {
            svg.text(yScale.label(tick), x: area.x - 8, y: yScale.pixel(tick) + 4, size: 11, anchor: .end)
        }
        svg.text(title, x: area.x + area.width / 2, y: area.y - 12, size: 14, anchor: .middle, bold: true)
        svg.text(xLabel, x: area.x + area.width / 2, y: area.maxY + 38, size: 12, anchor: .middle)
        let yLabelX = area.x - 50
        svg.text(yLabel, x: yLabelX, y: area.y + area.height / 2, size: 12, anchor: .middle, rotation: -90)
    }
}

/// A legend box: a swatch (line or dot) and a name per entry, stacked vertically.
struct Legend {
    struct Entry {
        var name: String
        var color: String
        var dashed = false
        /// A dot instead of a line (for scatter points).
        var dot = false
        /// An unfilled ring instead of a line (for marks drawn around points).
        var ring = false
    }

    var entries: [Entry]

    /// The box's size for the given entries (text width estimated: no font metrics available).
    var size: (width: Double, height: Double) {
        let longest = entries.map(\.name.count).max() ?? 0
        return (width: 40 + Double(longest) * 6.8, height: Double(entries.count) * 18 + 8)
    }

    /// Draws the legend with its top-left corner at (`x`, `y`).
    func draw(into svg: inout SVGWriter, x: Double, y: Double) {
        let (width, height) = size
        svg.rect(x: x, y: y, width: width, height: height, fill: "#ffffff", stroke: "#bbbbbb")
        for (index, entry) in entries.enumerated() {
            let rowY = y + 14 + Double(index) * 18
            if entry.dot {
                svg.circle(cx: x + 17, cy: rowY - 4, r: 4, fill: entry.color, stroke: "#ffffff")
            } else if entry.ring {
                svg.circle(cx: x + 17, cy: rowY - 4, r: 5, fill: "none", stroke: entry.color, strokeWidth: 1.6)
            } else {
                svg.line(
                    x1: x + 8, y1: rowY - 4, x2: x + 28, y2: rowY - 4, stroke: entry.color,
                    strokeWidth: 2, dashed: entry.dashed)
            }
            svg.text(entry.name, x: x + 34, y: rowY, size: 11)
        }
    }
}
