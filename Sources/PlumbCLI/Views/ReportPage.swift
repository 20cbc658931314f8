import Foundation
import PlumbCore
import PlumbStore
import PlumbEngine

/// Where `plumb report --html` and `plumb reconcile --report` put the page, and the observer
/// that rewrites it after every recorded run.
enum ReportPage {
    /// The page's file in `folder` ("" for `.plumb/report` of the project).
    static func file(project: Project, folder: String) -> String {
        let base = folder.isEmpty ? project.root + "/.plumb/report" : folder
        let absolute = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
        return URL(fileURLWithPath: absolute).standardizedFileURL.path + "/index.html"
    }

    /// Reads the page's input at HEAD and writes the page atomically (a browser reloading it never
    /// sees half a page). Returns the file's path.
    @discardableResult
    static func write(project: Project, environment: String?, folder: String) throws -> String {
        let path = file(project: project, folder: folder)
        let page = HTMLReport.page(try HTMLReport.gather(project: project, environment: environment))
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(Data(page.utf8), to: path)
        } catch {
            throw PlumbError("cannot write the report to \(path): \(error)", hint: "pass --out with a folder you can write to")
        }
        return path
    }

    /// Rewrites the page after each recorded run (`reconcile --report`, also in watch mode). A
    /// page that cannot be written is reported on standard error and does not fail the run: the
    /// run is already recorded.
    struct Refresher: ReconcileObserver {
        let project: Project
        let environment: String?
        let folder: String
        let terminal: Terminal

        func observe(_ event: ReconcileEvent) {
            switch event {
            case .recorded: break
            // A pass with nothing to do records nothing: the page is still written once, so it exists.
            case .planned where !FileManager.default.fileExists(atPath: ReportPage.file(project: project, folder: folder)): break
            default: return
            }
            do { try ReportPage.write(project: project, environment: environment, folder: folder) } catch {
                terminal.error("warning: \(error)")
            }
        }
    }
}
