/// Hidden-layer widths parsed from `--hidden`, e.g. `"512,128,64"` → `[512, 128, 64]`.
struct HiddenLayers: Equatable {
    /// The widths, input side first; each is at least 1.
    let widths: [Int]

    /// Parses comma-separated positive integers (spaces around commas allowed); `nil` when
    /// malformed: empty, an empty item, a non-integer, or a width below 1.
    init?(parsing text: String) {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        var widths: [Int] = []
        for item in items {
            guard let width = Int(item.trimmingCharacters(in: .whitespaces)), width >= 1 else {
                return nil
            }
            widths.append(width)
        }
        guard !widths.isEmpty else { return nil }
        self.widths = widths
    }
}

import Foundation
