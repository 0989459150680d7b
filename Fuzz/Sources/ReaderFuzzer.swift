import NN

// libFuzzer targets for the file readers that take bytes from outside: IDX (raw or gzip), gzip
// and safetensors. Built with `-sanitize=fuzzer,address -DFUZZING` (see .ci/run), libFuzzer
// calls `LLVMFuzzerTestOneInput` with mutated inputs and `$FUZZ_TARGET` picks the reader; built
// normally, the same executable replays files given on the command line through a reader
// (`reader-fuzzer idx FILE…`), which is how a crash found by the fuzzer is reproduced.
//
// A reader may refuse any input with an error; it must never crash, trap or exhaust memory.

/// The readers under test.
enum Reader: String, CaseIterable {
    case idx, gzip, safetensors

    /// Reads `bytes`, ignoring the error a malformed input gets.
    func read(_ bytes: [UInt8]) {
        switch self {
        case .idx: _ = try? IDXArray(bytes: bytes, file: "input")
        case .gzip: _ = try? Gzip.decompress(bytes, limit: { _ in 1 << 24 })
        case .safetensors: _ = try? Safetensors.decode(bytes, file: "input", as: Float.self)
        }
    }
}

#if FUZZING
    import Foundation

    private let reader: Reader = {
        guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let reader = Reader(rawValue: name)
        else {
            fatalError("set FUZZ_TARGET to one of \(Reader.allCases.map(\.rawValue))")
        }
        return reader
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        reader.read(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }

    /// libFuzzer's driver, for executables whose `main` is their own.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's `main` to `<Module>_main`: hand the arguments to libFuzzer.
    @_cdecl("ReaderFuzzer_main")
    public func readerFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        var (count, arguments) = (argc, argv)
        return LLVMFuzzerRunDriver(&count, &arguments, fuzzOneInput)
    }
#else
    import Foundation

    @main
    enum ReaderFuzzer {
        static func main() throws {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let reader = Reader(rawValue: name) else {
                print("usage: reader-fuzzer \(Reader.allCases.map(\.rawValue).joined(separator: "|")) FILE…")
                exit(2)
            }
            for path in arguments.dropFirst() {
                reader.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
                print("\(path): read without a crash")
            }
        }
    }
#endif
