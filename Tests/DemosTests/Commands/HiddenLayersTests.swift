import Testing

@testable import Demos

@Suite("Hidden layers")
struct HiddenLayersTests {
    @Test(arguments: [("64", [64]), ("512,128,64", [512, 128, 64]), ("16, 16", [16, 16])])
    func parses(text: String, widths: [Int]) {
        #expect(HiddenLayers(parsing: text)?.widths == widths)
    }

    @Test(arguments: ["", ",", "16,", "16,,16", "0", "-4", "x", "1.5", "16;16"])
    func rejects(text: String) {
        #expect(HiddenLayers(parsing: text) == nil)
    }
}
