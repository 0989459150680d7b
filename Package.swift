// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-autodiff",
    products: [
        .library(name: "AutoDiff", targets: ["AutoDiff"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "GradCheck", targets: ["GradCheck"]),
        // Data-parallel training over MPI: the only product that needs Open MPI installed.
        .library(name: "Distributed", targets: ["Distributed"]),
        .executable(name: "demos", targets: ["Demos"]),
        .executable(name: "bench", targets: ["Bench"]),
        .executable(name: "reader-fuzzer", targets: ["ReaderFuzzer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation` (build-time tooling only; no target depends on it).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // Hot loops compiled for AVX2+FMA and for the baseline, dispatched at load time.
        .target(
            name: "CKernels", exclude: ["thin_gemm.inc"],
            // glibc's vector math (libmvec: exp, log1p eight at a time) for the loss kernels.
            linkerSettings: [.linkedLibrary("mvec", .when(platforms: [.linux])), .linkedLibrary("m")]),
        .target(
            name: "AutoDiff",
            dependencies: ["COpenBLAS", "CMalloc", "CKernels", .product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "GradCheck", dependencies: ["AutoDiff"], path: "GradCheck"),
        .target(name: "NN", dependencies: ["AutoDiff", "CZlib"]),
        .target(name: "Distributed", dependencies: ["AutoDiff", "NN", "CMPI"]),
        .executableTarget(
            name: "Demos",
            dependencies: [
                "NN", "GradCheck", "Distributed", "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "Bench",
            dependencies: [
                "NN", "Distributed", "CKernels", "COpenBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // libFuzzer targets for the IDX, gzip and safetensors readers (built with -DFUZZING by .ci/run).
        .executableTarget(name: "ReaderFuzzer", dependencies: ["NN"], path: "Fuzz/Sources"),
        .testTarget(name: "AutoDiffTests", dependencies: ["AutoDiff", "GradCheck"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "GradCheck"], exclude: ["Python", "Fixtures"]),
        .testTarget(name: "GradCheckTests", dependencies: ["GradCheck", "AutoDiff"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "NN"]),
        .testTarget(name: "DemosTests", dependencies: ["Demos", "NN", "GradCheck"]),
    ]
)
