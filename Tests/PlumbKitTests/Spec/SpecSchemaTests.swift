import Foundation
import Testing
@testable import PlumbCore
import PlumbCoreFixtures
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct SpecSchemaTests {
    /// The JSON Schema lists exactly the keys each mapping declares in SpecSchema.
    @Test func jsonSchemaListsEveryDeclaredKey() {
        var fromSchemas: [String: Set<String>] = [:]
        for kind in JSONSchema.Kind.allCases { fromSchemas.merge(JSONSchema.declaredKeys(kind)) { a, _ in a } }
        for shape in SpecSchema.allObjects {
            #expect(fromSchemas[shape.name] == Set(shape.keys), "\(shape.name)")
        }
        #expect(Set(fromSchemas.keys) == Set(SpecSchema.allObjects.map(\.name)))
    }

    /// Each key the schema lists is accepted by the decoder, and a key it lacks is rejected:
    /// the two read the same declarations, and this proves the decoder really does.
    @Test(arguments: SpecSchema.stage.keys)
    func decoderAcceptsEveryStageKeyTheSchemaLists(_ key: String) {
        let value = key == "cmd" ? "x" : key == "env" ? "{A: b}" : key == "timeout" || key == "retries" ? "1" : "spec/a"
        let extra = key == "cmd" ? "" : ", \(key): \(value)"
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  a: {cmd: x\(extra)}\n  b: {cmd: y, outs: [spec/x]}\n",
            SpecPaths.params: "spec: {a: 1}\n",
        ], tracked: ["spec/a"]))
        #expect(!result.diagnostics.contains { $0.message.contains("unknown key") }, "\(result.diagnostics)")
    }

    @Test(arguments: SpecSchema.environment.keys)
    func decoderAcceptsEveryEnvironmentKeyTheSchemaLists(_ key: String) {
        let values = ["from": "dev", "runs": "[a]", "params": "{}", "env": "{A: b}", "secrets": "[TOKEN]",
                      "gates": "[{metric: a.acc, min: 0}]", "executor": "slurm", "resources": "{cpus: 2, memory: 4G}", "stages": "{a: {env: {B: c}}}", "desc": "text",
                      "branch": "main", "schedule": "[{cron: '@daily', stages: [a]}]"]
        let result = SpecLoader.load(from: MemorySpecSource([
            SpecPaths.pipeline: "version: 1\nstages:\n  a: {cmd: x, metrics: [build/m.json]}\n",
            "environments/dev.yaml": "",
            "environments/prod.yaml": "\(key): \(values[key] ?? "x")\n",
        ]))
        #expect(result.spec != nil, "\(result.diagnostics)")
    }

    @Test func decoderRejectsKeysTheSchemaLacks() {
        for shape in SpecSchema.allObjects { #expect(!shape.keys.contains("bogus")) }
        let result = SpecLoader.load(from: MemorySpecSource([SpecPaths.pipeline: "version: 1\nbogus: 1\nstages: {a: {cmd: x, bogus: 2}}\n"]))
        #expect(result.diagnostics.filter { $0.message.hasPrefix("unknown key 'bogus'") }.count == 2)
    }

    @Test func schemaDocumentIsDraft202012AndClosed() throws {
        let doc = JSONSchema.document(.pipeline)
        #expect(doc.value(at: "$schema") == .string("https://json-schema.org/draft/2020-12/schema"))
        #expect(doc.value(at: "additionalProperties") == .bool(false))
        #expect(doc.value(at: "required") == .array([.string("version"), .string("stages")]))
        #expect(doc.value(at: "properties.stages.propertyNames.pattern") == .string(SpecSchema.namePattern))
        #expect(doc.value(at: "$defs.stage.required") == .array([.string("cmd")]))
        let env = JSONSchema.document(.environment)
        #expect(env.value(at: "$defs.gate.anyOf") != nil)
        // The text form parses back as JSON with the same content.
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(JSONSchema.text(.environment).utf8))
        #expect(parsed == env)
    }

    @Test func schemaCommandWritesBothFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try SchemaCommand.write(to: folder + "/schemas")
        #expect(written.map { ($0 as NSString).lastPathComponent } == ["pipeline.schema.json", "environment.schema.json"])
        for path in written { #expect(FileManager.default.fileExists(atPath: path)) }
    }

    @Test func schemaCommandRejectsUnknownKinds() throws {
        let parsed = try ParsedArguments.parse(["pipelin"], specs: SchemaCommand.arguments, command: "schema")
        #expect(throws: UsageError.self) { try SchemaCommand(parsed) }
    }
}
