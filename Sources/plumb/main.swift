import Foundation
import PlumbCLI

// The executable only hands the arguments to the library and exits with its code.
exit(PlumbCLI.main(Array(CommandLine.arguments.dropFirst())))
