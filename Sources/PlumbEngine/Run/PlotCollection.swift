import Foundation
import PlumbCore
import PlumbStore

/// Reads the plot files a stage left in its workspace into the numbers its run record keeps.
///
/// A plot is a view of an output, not a result the run depends on: a file that is missing,
/// too large or malformed is a warning naming the file (and line), and the stage still
/// succeeds. The file is the stage's, so untrusted: it is opened without following links
/// (a plot inside an output folder could be a link to a file outside the workspace, whose
/// content would then be committed), must be a regular file, and is read up to a bound.
enum PlotCollection {
    /// The numbers of each plot that could be read, by path; nil when none could.
    static func read(_ plots: [Plot], workspace: String, warn: (String) -> Void) -> [String: PlotData]? {
        var out: [String: PlotData] = [:]
        for plot in plots {
            guard let format = plot.format else { continue }
            let data: Data
            do {
                data = try contents(of: plot.path, under: workspace, limit: PlotFile.maximumBytes)
            } catch {
                warn("\(plot.path): plot not recorded: \((error as? PlumbError)?.message ?? "\(error)")")
                continue
            }
            do {
                let reading = try PlotFile.read(data, format: format)
                out[plot.path] = reading.data
                for note in reading.notes { warn("\(plot.path): \(note)") }
                for problem in reading.data.series(for: plot).problems { warn(problem) }
            } catch {
                warn("\(plot.path)\(error.line.map { ":\($0)" } ?? ""): plot not recorded: the file \(error.reason)")
            }
        }
        return out.isEmpty ? nil : out
    }

    /// What the regular file at `relative` under `root` holds, when it is at most `limit` bytes.
    /// Neither the file nor a folder on the way to it may be a symbolic link.
    static func contents(of relative: String, under root: String, limit: Int) throws -> Data {
        let fd = try open(try ContainedPath.prepare(relative, under: root, create: false))
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { throw PlumbError("cannot inspect it: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw PlumbError("it is not a regular file") }
        guard Int(info.st_size) <= limit else {
            throw PlumbError("it is larger than \(formatBytes(Int64(limit))), the most Plumb reads of a plot")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { break }
            data.append(contentsOf: buffer[..<n])
            // It may have grown since fstat: the bound holds for what is read.
            guard data.count <= limit else { throw PlumbError("it is larger than \(formatBytes(Int64(limit))), the most Plumb reads of a plot") }
        }
        return data
    }

    private static func open(_ path: String) throws -> FileDescriptor {
        do {
            // O_NONBLOCK: a FIFO left where the plot should be must not stall the run.
            return try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            switch error.code {
            case ENOENT: throw PlumbError("the stage did not write it")
            case ELOOP: throw PlumbError("it is a symbolic link; a plot is a file the stage writes")
            default: throw PlumbError("cannot open it: \(error)")
            }
        }
    }
}
