import Foundation

/// A linear map from data values to pixels, with "nice" tick marks (1, 2 or 5 × 10ᵏ apart).
struct AxisScale {
    /// The data interval shown, widened to whole ticks.
    let lower: Double
    let upper: Double
    /// Tick positions in data units, from `lower` to `upper`.
    let ticks: [Double]
    /// Decimals in tick labels, enough to tell neighbouring ticks apart.
    let decimals: Int
    /// The pixel interval `lower` and `upper` map to (may be reversed, as for a y axis).
    let pixelStart: Double
    let pixelEnd: Double

    /// A scale covering `values` (non-finite ones ignored) with about `tickCount` ticks.
    /// - Parameters:
    ///   - includeZero: extend the interval to 0 (losses read better from 0).
    ///   - clamp: never extend beyond this interval (accuracy stays within [0, 1]).
    ///   - integerTicks: ticks at whole numbers only (epochs).
    init(
        covering values: [Double], pixels: (start: Double, end: Double), tickCount: Int = 6,
        includeZero: Bool = false, clamp: ClosedRange<Double>? = nil, integerTicks: Bool = false
    ) {
        let finite = values.filter(\.isFinite)
        var low = finite.min() ?? 0
        var high = finite.max() ?? 1
        if includeZero { low = min(low, 0); high = max(high, 0) }
        if high - low < 1e-12 {
            let pad = max(abs(low) * 0.1, integerTicks ? 1 : 0.05)
            low -= pad
            high += pad
        }
        var step = AxisScale.niceStep((high - low) / Double(max(tickCount - 1, 1)))
        if integerTicks { step = max(1, step.rounded()) }
        low = (low / step).rounded(.down) * step
        high = (high / step).rounded(.up) * step
        if let clamp {
            low = max(low, clamp.lowerBound)
            high = min(high, clamp.upperBound)
        }
        var ticks: [Double] = []
        var index = (low / step).rounded(.up)
        while index * step <= high + step * 1e-9 {
            ticks.append(index * step)
            index += 1
        }
        self.lower = low
        self.upper = high
        self.ticks = ticks
        self.decimals = integerTicks ? 0 : max(0, Int(-log10(step).rounded(.down)))
        self.pixelStart = pixels.start
        self.pixelEnd = pixels.end
    }

    /// The pixel position of `value`.
    func pixel(_ value: Double) -> Double {
        let span = upper - lower
        return pixelStart + (value - lower) / span * (pixelEnd - pixelStart)
    }

    /// The label of a tick.
    func label(_ value: Double) -> String { Format.fixed(value, decimals) }

    /// The smallest 1, 2 or 5 × 10ᵏ at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let magnitude = pow(10, log10(rough).rounded(.down))
        for multiple in [1.0, 2, 5, 10] where multiple * magnitude >= rough * (1 - 1e-9) {
            return multiple * magnitude
        }
        return 10 * magnitude
    }
}
