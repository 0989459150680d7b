import AutoDiff
import NN

/// What a person wants to see of a trained CNN (``ClassifierModel/convolutional(height:width:outputs:settings:)``):
/// its first layer's filters, and the feature maps each convolution block makes of one image.
struct ConvolutionPictures {
    /// The first convolution's kernels, one image each (`kH × kW`), on one symmetric scale for
    /// all: gray is 0, white the largest positive weight, black the most negative.
    var filters: [GrayscaleImage]
    /// The image the maps are of.
    var input: GrayscaleImage
    /// Each block's output channels (after BatchNorm, ReLU and pooling) for ``input``, each map
    /// scaled from 0 (black) to its own largest value (white).
    var blocks: [[GrayscaleImage]]

    /// The pictures of `model` for `image` (`[1, 1, H, W]`), computed in evaluation mode without
    /// a tape. The model's blocks are the layers up to each max pooling.
    init(model: Sequential<Float>, image: Tensor<Float>) {
        model.eval()
        let conv = model.layers.lazy.compactMap { $0 as? Conv2d<Float> }.first!
        let weights = conv.weight.value.scalars
        let kernel = Array(conv.weight.shape.suffix(2))
        let scale = weights.map(abs).max() ?? 1
        let perFilter = weights.count / conv.weight.shape[0]
        filters = (0..<conv.weight.shape[0]).map { f in
            GrayscaleImage(
                width: kernel[1], height: kernel[0],
                intensities: weights[(f * perFilter)..<(f * perFilter + kernel[0] * kernel[1])].map {
                    0.5 + $0 / (2 * max(scale, .leastNormalMagnitude))
                })
        }
        input = GrayscaleImage(width: image.shape[3], height: image.shape[2], intensities: image.scalars)
        var maps: [[GrayscaleImage]] = []
        withoutGrad {
            var x = image
            for layer in model.layers {
                x = layer(x)
                guard layer is MaxPool2d<Float> else { continue }
                let (channels, height, width) = (x.shape[1], x.shape[2], x.shape[3])
                let values = x.scalars
                maps.append(
                    (0..<channels).map { c in
                        let map = values[(c * height * width)..<((c + 1) * height * width)]
                        let top = max(map.max() ?? 0, .leastNormalMagnitude)
                        return GrayscaleImage(width: width, height: height, intensities: map.map { $0 / top })
                    })
            }
        }
        blocks = maps
    }

    /// The filters as an SVG document.
    func filtersSVG(demo: String) -> String {
        let side = filters.first.map { "\($0.height) × \($0.width)" } ?? ""
        return ImageMosaic(
            title: "\(demo): the first convolution's \(filters.count) filters",
            sections: [
                .init(
                    heading: "\(side) kernels on one scale: gray 0, white the largest weight, black the most negative",
                    images: filters, captions: filters.indices.map { "\($0)" }, scale: 16)
            ]
        ).svg()
    }

    /// The input image and each block's feature maps as an SVG document.
    func featureMapsSVG(demo: String) -> String {
        var sections: [ImageMosaic.Section] = [
            .init(heading: "the first test image", images: [input], scale: 4)
        ]
        for (index, maps) in blocks.enumerated() {
            let side = maps.first.map { "\($0.height) × \($0.width)" } ?? ""
            sections.append(
                .init(
                    heading:
                        "block \(index + 1) (convolution, BatchNorm, ReLU, max pool): \(maps.count) maps of \(side), each from 0 to its maximum",
                    images: maps, captions: maps.indices.map { "\($0)" }, scale: index == 0 ? 4 : 6, columns: 8))
        }
        return ImageMosaic(title: "\(demo): feature maps of one test image", sections: sections).svg()
    }
}
