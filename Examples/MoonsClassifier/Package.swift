// swift-tools-version:6.0
// An application of the library from outside it: depends on swift-autodiff by path, as a project
// beside a clone would (`.package(url: …, from: "0.1.0")` once it is published).
import PackageDescription

let package = Package(
    name: "MoonsClassifier",
    dependencies: [
        .package(name: "swift-autodiff", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "MoonsClassifier",
            dependencies: [
                .product(name: "AutoDiff", package: "swift-autodiff"),
                .product(name: "NN", package: "swift-autodiff"),
            ])
    ]
)
