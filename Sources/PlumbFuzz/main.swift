// plumb-fuzz: feeds inputs to the spec loader or to one record decoder (see FuzzTarget).
//
// Built with `scripts/fuzz.sh` (`-sanitize=fuzzer -DPLUMB_LIBFUZZER`), this is a libFuzzer binary:
// SwiftPM links every executable with `main` defined as this file's entry point, so instead of
// libFuzzer's own `main` this one hands the command line to libFuzzer's driver. In a plain
// `swift build` it is a replayer instead: `plumb-fuzz <decoder> FILE...` runs saved inputs (a
// crash that fuzz.sh kept, the seed corpus) through the same code, without libFuzzer.
import Foundation
import PlumbCore
import PlumbGit
import PlumbEngine
import PlumbCLI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let target = FuzzTarget.selected else {
        FileHandle.standardError.write(Data("plumb-fuzz: set PLUMB_FUZZ_DECODER to one of: \(FuzzTarget.names)\n".utf8))
        exit(2)
    }
    target.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}

#if PLUMB_LIBFUZZER
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> CInt

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOneInput($0, $1) })
#else
let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
    FileHandle.standardError.write(Data("usage: plumb-fuzz <decoder> FILE...   decoders: \(FuzzTarget.names)\n".utf8))
    exit(64)
}
for path in arguments.dropFirst() {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("plumb-fuzz: cannot read \(path)\n".utf8))
        exit(1)
    }
    target.run(data)
}
print("plumb-fuzz: \(arguments.count - 1) input(s) ran through \(name) without a crash")
#endif
