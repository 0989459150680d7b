import AutoDiff
import Foundation
import GradCheck
@testable import NN

/// A fresh temporary directory for one test, removed by the caller with `cleanup`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "nntests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

func approximatelyEqual(_ a: [Double], _ b: [Double], tolerance: Double) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($0), abs($1)) }
}

func doubles<S: TensorScalar>(_ t: Tensor<S>) -> [Double] { t.scalars.map { Double($0) } }

/// The natural logarithm of a Double (AutoDiff's `log` is for tensors).
func ln(_ x: Double) -> Double { Foundation.log(x) }
